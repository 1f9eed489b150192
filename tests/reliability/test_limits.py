"""The bounds docs/performance.md documents, checked over real HTTP.

``max_runs``: the oldest ended runs are evicted first; when every stored run is still active a
new run is refused with 503 and ``Retry-After``, and nothing is created. ``max_body_bytes``: a
body of exactly the limit is read, one byte more is refused with 413.
"""

from __future__ import annotations

import json

from letta_contract_kit.mockserver import MockConfig, MockServer
from reliability.raw_http import request_json, send_raw

AGENT = "agent-1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
ASYNC = f"/v1/agents/{AGENT}/messages/async"
BODY = {"messages": [{"role": "user", "content": "hello"}]}
MAX_RUNS = 5


def create(base_url: str) -> tuple[int, dict[str, object]]:
    status, answer = request_json(base_url, "POST", ASYNC, BODY)
    assert isinstance(answer, dict), answer
    return status, answer


def listed_ids(base_url: str) -> set[str]:
    status, listed = request_json(base_url, "GET", "/v1/runs/?limit=1000")
    assert status == 200 and isinstance(listed, list), listed
    return {str(run["id"]) for run in listed}


def poll_to_end(base_url: str, run_id: str) -> None:
    for _ in range(20):
        status, run = request_json(base_url, "GET", f"/v1/runs/{run_id}")
        assert status == 200, run
        if run["status"] in ("completed", "failed", "cancelled"):
            return
    raise AssertionError(f"{run_id} did not end after 20 polls")


def test_full_store_refuses_then_evicts_the_oldest_ended_run() -> None:
    config = MockConfig(agents=[AGENT], clock="per-poll", max_runs=MAX_RUNS)
    with MockServer(config) as mock:
        ids = []
        for _ in range(MAX_RUNS):
            status, run = create(mock.base_url)
            assert status == 200, run
            ids.append(str(run["id"]))
        # Every stored run is still active (per-poll: nothing moves unpolled): refused.
        status, answer = create(mock.base_url)
        assert status == 503, answer
        assert "detail" in answer
        assert listed_ids(mock.base_url) == set(ids)
        # End the second and the fourth run: the next two new runs evict them, oldest first.
        poll_to_end(mock.base_url, ids[3])
        poll_to_end(mock.base_url, ids[1])
        status, first_new = create(mock.base_url)
        assert status == 200, first_new
        assert listed_ids(mock.base_url) == {*ids[:1], *ids[2:], str(first_new["id"])}
        status, second_new = create(mock.base_url)
        assert status == 200, second_new
        status, gone = request_json(mock.base_url, "GET", f"/v1/runs/{ids[3]}")
        assert status == 404, gone
        expected = {ids[0], ids[2], ids[4], str(first_new["id"]), str(second_new["id"])}
        assert listed_ids(mock.base_url) == expected


def test_full_store_answer_says_when_to_retry() -> None:
    config = MockConfig(agents=[AGENT], clock="per-poll", max_runs=1)
    with MockServer(config) as mock:
        assert create(mock.base_url)[0] == 200
        raw = (
            f"POST {ASYNC} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(json.dumps(BODY))}\r\n\r\n{json.dumps(BODY)}"
        ).encode()
        answer = send_raw(mock.base_url, raw)
        assert answer.status == 503, answer.describe()
        assert answer.headers.get("retry-after", "").isdigit(), answer.headers


def test_body_limit_is_exact() -> None:
    limit = 4_096
    config = MockConfig(agents=[AGENT], clock="per-poll", max_body_bytes=limit)
    with MockServer(config) as mock:
        padding = limit - len(json.dumps({**BODY, "pad": ""}))
        exact = json.dumps({**BODY, "pad": "p" * padding}).encode()
        assert len(exact) == limit
        head = f"POST {ASYNC} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        at_limit = send_raw(
            mock.base_url, f"{head}Content-Length: {limit}\r\n\r\n".encode() + exact
        )
        assert at_limit.status == 200, at_limit.describe()
        over = exact[:-1] + b" }"
        assert len(over) == limit + 1
        beyond = send_raw(
            mock.base_url, f"{head}Content-Length: {limit + 1}\r\n\r\n".encode() + over
        )
        assert beyond.status == 413, beyond.describe()
        assert beyond.is_json, beyond.describe()
        assert len(listed_ids(mock.base_url)) == 1
