"""The throughput benchmarks compare servers round by round, not across minutes of drift.

Each round measures every compared server once, in an order that turns; a ratio is taken
within each round, and the goal is judged on the median of the rounds' ratios. A round with no
figure leaves the goal unmeasured rather than quietly dropped.
"""

from __future__ import annotations

from typing import Any

import pytest
from benchmark_scripts import load

rounds = load("rounds")
mock_throughput = load("mock_throughput")
scale = load("scale")


def test_each_subject_leads_one_round_in_turn() -> None:
    subjects = ["mock", "prism-static", "prism-dynamic"]
    orders = [rounds.order(subjects, index) for index in range(3)]
    assert [o[0] for o in orders] == subjects
    assert all(sorted(o) == sorted(subjects) for o in orders)
    assert rounds.order(subjects, 3) == subjects
    assert rounds.order([], 2) == []


def test_ratios_are_taken_within_each_round() -> None:
    assert rounds.paired([3000.0, 2000.0, None], [1500.0, 1000.0, 900.0]) == [2.0, 2.0, None]
    assert rounds.paired([1.0], [0.0]) == [None]
    with pytest.raises(ValueError, match="rounds"):
        rounds.paired([1.0, 2.0], [1.0])


def test_a_spread_is_the_median_with_its_range_and_needs_every_round() -> None:
    found = rounds.spread([2.0, 1.2, 2.4])
    assert (found.median, found.low, found.high, found.rounds) == (2.0, 1.2, 2.4, 3)
    assert found.shown() == "1.20-2.40 (3 rounds)"
    assert rounds.spread([1.5]).shown() == "-"
    assert rounds.spread([2.0, None, 2.4]) is None
    assert rounds.spread([]) is None


def _cells(endpoint: str, rps: list[float], p99: float = 20.0) -> list[dict[str, Any]]:
    return [
        {
            "endpoint": endpoint,
            "connections": 64,
            "round": index + 1,
            "requests_per_second": value,
            "p99_ms": p99 + index,
            "non_2xx_3xx": 0,
            "socket_errors": 0,
            "timeouts": 0,
        }
        for index, value in enumerate(rps)
    ]


def _target(post: list[float], get: list[float]) -> dict[str, Any]:
    return {
        "pinning": "0/1",
        "startup_s": 0.3,
        "rss_mb": 60.0,
        "requests_before_rss": 100_000,
        "cells": _cells("POST async", post) + _cells("GET run", get),
    }


def _goal(goals: list[dict[str, Any]], starts: str) -> dict[str, Any]:
    [row] = [g for g in goals if g["goal"].startswith(starts)]
    return row


def test_a_slow_spell_that_hits_both_servers_in_one_round_does_not_sway_the_verdict() -> None:
    # Round 2 ran on a slow machine for both: its ratio is round 1's. Compared across rounds
    # (the median of one against the median of the other: 1600 / 1500) it would miss.
    results = {
        "mock": _target([3000.0, 1500.0, 1600.0], [6000.0, 6000.0, 6000.0]),
        "prism-static": _target([1500.0, 750.0, 1500.0], [3000.0, 3000.0, 3000.0]),
    }
    goals = mock_throughput.comparisons(results, [64])
    post = _goal(goals, "POST rps mock/prism-static @64")
    assert (post["measured"], post["verdict"], post["rounds"]) == (
        2.0,
        "met",
        "1.07-2.00 (3 rounds)",
    )
    get_post = _goal(goals, "GET rps / POST rps (mock) @64")
    assert (get_post["measured"], get_post["verdict"]) == (3.75, "met")  # 6000 / 1600


def test_the_post_goal_is_missed_when_the_median_round_misses_it() -> None:
    results = {
        "mock": _target([3000.0, 2000.0, 2100.0], [6000.0] * 3),
        "prism-static": _target([1500.0, 1500.0, 1500.0], [3000.0] * 3),
    }
    post = _goal(mock_throughput.comparisons(results, [64]), "POST rps mock/prism-static @64")
    assert (post["measured"], post["verdict"]) == (1.4, "MISSED")


def test_a_round_without_a_figure_leaves_the_goal_unmeasured() -> None:
    results = {
        "mock": _target([3000.0, 3000.0], [6000.0] * 2),
        "prism-static": _target([1500.0, 0.0], [3000.0] * 2),
    }
    post = _goal(mock_throughput.comparisons(results, [64]), "POST rps mock/prism-static @64")
    assert post["verdict"] == "not measured"


def test_the_latency_bound_is_judged_on_the_worst_round() -> None:
    results = {"mock": _target([3000.0] * 3, [6000.0] * 3)}
    results["mock"]["cells"][1]["p99_ms"] = 51.0
    p99 = _goal(mock_throughput.comparisons(results, [64]), "p99 POST async @64")
    assert (p99["measured"], p99["verdict"]) == (51.0, "MISSED")


def test_a_goal_resting_on_a_cell_the_machine_disturbed_twice_is_not_judged() -> None:
    # Measured again and stolen again: the figure is kept and shown, but it measured the
    # neighbours, so neither "met" nor "MISSED" would be true of the server.
    results = {
        "mock": _target([3000.0, 1000.0, 3000.0], [6000.0] * 3),
        "prism-static": _target([1500.0] * 3, [3000.0] * 3),
    }
    cell = results["mock"]["cells"][1]
    cell["p99_ms"] = 204.0
    cell["disturbed"] = "the hypervisor took 56.7% of the server's CPU time"
    goals = mock_throughput.comparisons(results, [64])
    why = "disturbed (round 2: the hypervisor took 56.7% of the server's CPU time)"
    p99 = _goal(goals, "p99 POST async @64")
    assert (p99["measured"], p99["verdict"]) == (204.0, why)
    post = _goal(goals, "POST rps mock/prism-static @64")
    assert (post["measured"], post["verdict"]) == (2.0, why)
    assert _goal(goals, "GET rps / POST rps (mock) @64")["verdict"] == why
    assert _goal(goals, "p99 GET run @64")["verdict"] == "met"  # its cells were not disturbed


def _sized(size: int, rps: list[float]) -> dict[str, Any]:
    return {
        "store": "memory",
        "size": size,
        "get_rounds": [{"requests_per_second": value} for value in rps],
    }


def test_flatness_compares_the_sizes_round_by_round() -> None:
    # Round 2 was slow for both sizes; round 3 for the large one only. The median change is
    # round 1's and round 2's -5%; the medians of the sizes (6000 against 4000) would say -33%.
    rows = [_sized(10_000, [6000.0, 3000.0, 6000.0]), _sized(1_000_000, [5700.0, 2850.0, 4000.0])]
    change = scale.flatness(rows, "memory", "get")
    assert round(change.median, 3) == -0.05
    assert (round(change.low, 3), change.rounds) == (-0.333, 3)
    assert scale.flatness(rows[:1], "memory", "get") is None  # one size: nothing to compare


def test_flatness_resting_on_a_round_the_machine_disturbed_twice_is_not_judged() -> None:
    rows = [_sized(10_000, [6000.0] * 3), _sized(1_000_000, [5700.0, 2000.0, 5800.0])]
    assert scale.disturbed_flatness(rows, "memory", "get") is None
    rows[1]["get_rounds"][1]["disturbed"] = "the machine paused"
    assert (
        scale.disturbed_flatness(rows, "memory", "get")
        == "1,000,000 runs, round 2: the machine paused"
    )
    assert scale.disturbed_flatness(rows[:1], "memory", "get") is None  # nothing compared


def _wrk(seconds: float) -> Any:
    return load("wrk").WrkResult(
        requests=37_655,
        seconds=seconds,
        requests_per_second=37_655 / seconds,
        p50_ms=9.0,
        p90_ms=12.0,
        p99_ms=28.0,
        max_ms=64.0,
        mean_ms=9.5,
        socket_errors=0,
        timeouts=64,
        non_2xx_3xx=0,
    )


def test_a_wrk_run_that_outlasts_its_duration_is_a_pause_of_the_machine() -> None:
    # wrk's own timer ends a run on time even when the server answers nothing (its requests
    # then count as timeouts); only a machine that stopped makes the run itself longer.
    overran = load("wrk").overran
    assert overran(_wrk(12.673), 6.0)  # a 6 s cell that took 12.7 s: the VM was suspended
    assert not overran(_wrk(6.1), 6.0)
    assert not overran(_wrk(2.4), 0.4)  # wrk runs at least 1 s


def test_a_cell_the_hypervisor_took_the_core_from_is_disturbed() -> None:
    # Steal is CPU time the hypervisor gave to another guest: the server's requests wait for
    # it, so its latency measures the neighbours. Under 1% on a quiet machine.
    wrk = load("wrk")
    assert (
        wrk.disturbance(_wrk(6.0), 6.0, 0.245)
        == "the hypervisor took 24.5% of the server's CPU time"
    )
    assert wrk.disturbance(_wrk(6.0), 6.0, 0.01) is None
    assert wrk.disturbance(_wrk(6.0), 6.0, float("nan")) is None  # steal not known
    assert wrk.disturbance(_wrk(12.673), 6.0, 0.0) == "wrk ran 12.7 s of 6: the machine paused"


def test_a_disturbed_run_is_set_aside_with_its_reason_and_measured_once_more() -> None:
    wrk = load("wrk")
    runs = iter([(_wrk(12.673), {"n": 1}), (_wrk(6.0), {"n": 2}), (_wrk(6.0), {"n": 3})])
    set_aside: list[dict[str, Any]] = []
    assert wrk.measured_undisturbed(lambda: next(runs), 6.0, "mock GET", set_aside) == {"n": 2}
    assert set_aside == [{"n": 1, "set_aside": "wrk ran 12.7 s of 6: the machine paused"}]
    stolen = iter([(_wrk(6.0), {"steal": 0.116}), (_wrk(6.0), {"steal": 0.09})])
    # the second measurement is kept whatever it is, and says when the machine stayed busy
    kept = wrk.measured_undisturbed(lambda: next(stolen), 6.0, "mock GET", set_aside)
    assert kept == {"steal": 0.09, "disturbed": "the hypervisor took 9.0% of the server's CPU time"}
    assert set_aside[1]["set_aside"] == "the hypervisor took 11.6% of the server's CPU time"
    steady = iter([(_wrk(6.0), {"steal": 0.0})])
    assert wrk.measured_undisturbed(lambda: next(steady), 6.0, "mock GET", set_aside) == {
        "steal": 0.0
    }
    assert len(set_aside) == 2


def test_steal_is_the_share_of_the_server_cpus_time_the_hypervisor_took() -> None:
    pinning = load("pinning")
    before = {0: (100, 5, 1_000), 1: (900, 0, 1_000)}
    after = {0: (400, 35, 1_600), 1: (1_500, 0, 1_600)}
    ticks = pinning.ticks_between(before, after, {0})  # the server's core only
    assert (ticks.busy, ticks.stolen, ticks.total) == (300, 30, 600)
    assert ticks.steal == 0.05
    assert ticks.busy_share == 0.5
    idle = pinning.ticks_between(before, before, {0})
    assert idle.steal != idle.steal  # no time passed: NaN
