"""The proxy overhead benchmark judges its latency goal only where latency is what it measures.

In a closed loop against an instant upstream, 16 connections keep the proxy busy, and its p50
is the number of connections over the exchanges/s it carries: a ceiling, not what it adds to
one exchange. So that run gives no verdict on the goal; an upstream that takes time, or a
paced load the proxy carries, does.
"""

from __future__ import annotations

from typing import Any

import pytest
from benchmark_scripts import load

proxy_overhead = load("proxy_overhead")


def _rows(added_p50_ms: float, carried: float = 600.0) -> list[dict[str, Any]]:
    direct = {"target": "direct", "rps": 700.0, "added_p50_ms": None, "own_5xx": None}
    proxy = {"target": "proxy", "rps": carried, "added_p50_ms": added_p50_ms, "own_5xx": 0}
    inline = {"target": "proxy-inline", "rps": carried, "added_p50_ms": 9.0, "own_5xx": 0}
    return [direct, proxy, inline]


def _latency_verdict(rows: list[dict[str, Any]], *argv: str) -> str:
    args = proxy_overhead.parse_args([*argv, "--no-results"])
    [latency] = [g for g in proxy_overhead.goals(rows, args) if g["goal"].startswith("added")]
    return str(latency["verdict"])


@pytest.mark.parametrize(
    ("argv", "added", "expected"),
    [
        ((), 1.5, "met"),  # the default: an upstream taking 20 ms
        ((), 2.5, "MISSED"),
        (("--upstream-latency", "0.1"), 1.9, "met"),
        (("--upstream-latency", "0", "--rate", "200"), 2.5, "MISSED"),
        (("--upstream-latency", "0"), 0.5, "not measured"),  # closed loop, instant upstream
        (("--upstream-latency", "0"), 30.0, "not measured"),
        (("--connections", "64"), 1.0, "not measured"),  # the goal is at 16 connections
    ],
)
def test_the_added_p50_is_judged_only_when_the_proxy_is_not_saturated(
    argv: tuple[str, ...], added: float, expected: str
) -> None:
    assert _latency_verdict(_rows(added, carried=200.0), *argv) == expected


def test_a_paced_load_the_proxy_does_not_carry_is_saturated_too() -> None:
    rows = _rows(1.0, carried=150.0)
    assert _latency_verdict(rows, "--upstream-latency", "0", "--rate", "200") == "not measured"


def test_the_proxys_own_5xx_are_judged_in_every_run() -> None:
    rows = _rows(1.0)
    rows[1]["own_5xx"] = 2
    args = proxy_overhead.parse_args(["--upstream-latency", "0", "--no-results"])
    [own] = [g for g in proxy_overhead.goals(rows, args) if "5xx" in g["goal"]]
    assert (own["measured"], own["verdict"]) == ("2", "MISSED")


def test_the_mock_is_slowed_only_when_asked_with_a_thread_for_each_connection() -> None:
    assert proxy_overhead.upstream_latency_flags(0, 16) == []
    flags = proxy_overhead.upstream_latency_flags(0.02, 16)
    assert flags == ["--fault-rate", "1", "--fault", "latency:0.02", "--threads", "64"]
    assert proxy_overhead.upstream_latency_flags(0.02, 100)[-2:] == ["--threads", "100"]
