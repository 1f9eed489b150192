"""Hostile requests: each gets the right 4xx with a JSON body, and leaves nothing behind.

Every case goes over a real loopback socket, as raw bytes, to each HTTP server the mock runs
under (waitress in-process, Granian for the command). After each one the
server must still answer its health check and hold exactly as many runs as before.
"""

from __future__ import annotations

import pytest

from reliability.cli_process import CliMock
from reliability.conftest import Target
from reliability.hostile_corpus import (
    AGENT,
    VALID_BODY,
    HostileRequest,
    broken_http,
    corpus,
)
from reliability.raw_http import request_json, send_raw

CASES = corpus()


def run_count(base_url: str) -> int:
    status, listed = request_json(base_url, "GET", "/v1/runs/?limit=1000")
    assert status == 200, f"listing runs answered {status}: {listed!r}"
    assert isinstance(listed, list)
    return len(listed)


def healthy(base_url: str) -> bool:
    status, _ = request_json(base_url, "GET", "/v1/health/")
    return status == 200


@pytest.fixture(scope="module")
def seeded(hostile_target: Target) -> Target:
    """Two real runs first, so that a listing that loses or gains runs shows it."""
    for _ in range(2):
        status, body = request_json(
            hostile_target.base_url, "POST", f"/v1/agents/{AGENT}/messages/async", VALID_BODY
        )
        assert status == 200, body
    return hostile_target


def test_the_corpus_is_big_and_varied() -> None:
    assert len(CASES) >= 800
    groups = {case.name.split("-")[0] for case in CASES}
    assert {
        "truncated",
        "utf8",
        "body",
        "deep",
        "wrong",
        "content",
        "method",
        "traversal",
        "location",
    } <= groups


# Requests that Granian's HTTP layer (hyper) refuses or reframes before the app sees them:
# the answer is still a 4xx and nothing is created, but the body is empty (header floods,
# unreadable Content-Length) or the app is handed a cut or empty body (broken chunking). The
# README lists this among the limits of ``--server granian``.
GRANIAN_HTTP_LAYER = {
    "body-10mb-chunked": "the app gets the first 1 MiB: 422 instead of 413",
    "chunk-size-not-hex": "the app gets an empty body: 422 instead of 400",
    "headers-1000": "431 with an empty body",
    "content-type-repeated-200": "431 with an empty body",
    "header-block-over-limit": "431 with an empty body",
    "content-length-not-a-number": "400 with an empty body",
    "content-length-conflicting": "400 with an empty body",
}


def check_answer(mock: Target, case: HostileRequest, before: int) -> None:
    answer = send_raw(mock.base_url, case.to_bytes(), method=case.method)
    if isinstance(mock, CliMock) and case.name in GRANIAN_HTTP_LAYER:
        assert 400 <= answer.status < 500, f"{case.name}: {answer.describe()}"
    else:
        assert answer.status in case.expected, (
            f"{case.name}: expected {sorted(case.expected)}, got {answer.describe()}"
        )
        assert answer.is_json, f"{case.name}: the error body is not JSON: {answer.describe()}"
        assert "detail" in answer.json(), f"{case.name}: no 'detail' in {answer.describe()}"
    assert healthy(mock.base_url), f"{case.name}: the health check failed afterwards"
    assert run_count(mock.base_url) == before, f"{case.name}: the number of runs changed"


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_hostile_request_is_refused_cleanly(seeded: Target, case: HostileRequest) -> None:
    check_answer(seeded, case, run_count(seeded.base_url))


@pytest.mark.parametrize("case", broken_http(), ids=[case.name for case in broken_http()])
def test_broken_http_is_refused_cleanly(seeded: Target, case: HostileRequest) -> None:
    """Requests the HTTP server itself must refuse; the API promises JSON errors there too."""
    check_answer(seeded, case, run_count(seeded.base_url))


def test_lone_surrogate_escape_is_not_a_server_error(seeded: Target) -> None:
    r"""``"\ud800"`` is valid JSON text but no Unicode string: refuse it or store it, never 5xx."""
    before = run_count(seeded.base_url)
    body = b'{"messages": [{"role": "user", "content": "a\\ud800b"}]}'
    case = HostileRequest("lone-surrogate", "POST", f"/v1/agents/{AGENT}/messages/async", body)
    answer = send_raw(seeded.base_url, case.to_bytes())
    assert answer.status in (200, 422), answer.describe()
    assert answer.is_json, answer.describe()
    if answer.status == 200:
        run_id = answer.json()["id"]
        status, run = request_json(seeded.base_url, "GET", f"/v1/runs/{run_id}")
        assert status == 200, run
        assert run_count(seeded.base_url) == before + 1
    else:
        assert run_count(seeded.base_url) == before
