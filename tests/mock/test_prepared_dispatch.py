"""The prepared dispatch answers exactly as Flask's own dispatch does.

The async send and the retrieve of a run are answered by ``mockserver.dispatch`` without
Flask's per-request machinery. Two mocks of the same configuration, one with it and one
without (``create_app(prepared=False)``), get the same generated requests: valid and invalid
bodies, odd paths and ids, tokens, injected faults and scenarios, under the default profile,
the letta-0.16.8 profile (whose quirks change error bodies) and the minimal routes. Their
answers (status, headers, body) and what their journals record must be the same, run ids and
timestamps aside (each mock makes its own).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from letta_contract_kit.contract_tests.strategies import BodyStrategies
from letta_contract_kit.mockserver import MockConfig, create_app
from letta_contract_kit.mockserver.dispatch import PreparedDispatch
from letta_contract_kit.mockserver.faults import FAULT_HEADER
from letta_contract_kit.mockserver.scenarios import SCENARIO_HEADER

from .conftest import AGENT, OTHER_AGENT

TOKEN = "dispatch-token-0123"
CONFIGS = {
    "default": {"token": TOKEN},
    "letta-0.16.8": {"profile": "letta-0.16.8"},
    "minimal routes": {"routes": "minimal", "token": TOKEN},
}
RUN_ID = re.compile(rb"run-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
MESSAGE_ID = re.compile(rb"message-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Durations are measured on the wall clock: they differ from one app to the other.
DURATION = re.compile(rb'"(ttft_ns|total_duration_ns)": ?\d+')
TIMESTAMP = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?")

VALID_BODIES = BodyStrategies().valid_body().map(lambda b: json.dumps(b).encode())
JSON_BODIES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
).map(lambda b: json.dumps(b).encode())
BODIES = (
    VALID_BODIES
    | JSON_BODIES
    | st.binary(max_size=40)
    | st.sampled_from([b"", b"{", b'{"input": "hi"}', b'{"input": "\\ud800"}', b"[]", b"NaN"])
)
SEGMENTS = st.sampled_from(
    [AGENT, OTHER_AGENT, "agent-1", "run-1", "x", "%00", "a%2Fb", "run-\n", " ", "\u00e9"]
) | st.text(st.characters(codec="utf-8", exclude_characters="/?#"), min_size=1, max_size=12)
PATHS = st.one_of(
    st.builds(lambda s: f"/v1/agents/{s}/messages/async", SEGMENTS),
    st.builds(lambda s: f"/v1/runs/{s}", SEGMENTS),
    st.sampled_from(
        [
            f"/v1/agents/{AGENT}/messages/async/",
            f"//v1/agents/{AGENT}/messages/async",
            "/v1/runs/",
            "/v1/runs",
            "//",
            f"/v1/agents/{AGENT}",
        ]
    ),
)
HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "Content-Type": st.sampled_from(
            ["application/json", "text/plain", "application/vnd.x+json", ""]
        ),
        "Authorization": st.sampled_from([f"Bearer {TOKEN}", "Bearer nope", "Basic x", ""]),
        FAULT_HEADER: st.sampled_from(["503", "429:2", "latency:0", "bogus", "drop"]),
        SCENARIO_HEADER: st.sampled_from(["fail", "stop:max_steps", "nonsense", ""]),
    },
)


def _quoted(path: str) -> str:
    return quote(path.encode("utf-8", "surrogatepass"), safe="/%:")


def _normalised(data: bytes) -> bytes:
    data = RUN_ID.sub(b"run-ID", data)
    data = MESSAGE_ID.sub(b"message-ID", data)
    data = DURATION.sub(rb'"\1": N', data)
    return TIMESTAMP.sub(b"TIME", data)


class Pair:
    """The two mocks, one request at a time to both."""

    def __init__(self, fields: dict[str, Any]) -> None:
        config = MockConfig(agents=[AGENT], clock="per-poll", **fields)
        self.prepared = create_app(config)
        self.plain = create_app(config, prepared=False)
        assert isinstance(self.prepared.wsgi_app, PreparedDispatch)
        assert not isinstance(self.plain.wsgi_app, PreparedDispatch)

    def close(self) -> None:
        for app in (self.prepared, self.plain):
            app.extensions["letta_mock"].close()

    def send(
        self, app: Flask, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, list[tuple[str, str]], bytes, dict[str, Any]]:
        answer = app.test_client().open(_quoted(path), method=method, data=body, headers=headers)
        try:
            data = answer.get_data()
        except ConnectionAbortedError:  # the drop fault
            data = b"<dropped>"
        entry = app.extensions["letta_mock_journal"].entries(None)[-1].as_dict()
        kept = {k: entry[k] for k in ("method", "path", "query", "headers", "status", "fault")}
        # The length is the body's own (durations vary in digits): checked, then left out.
        if "Content-Length" in answer.headers and data != b"<dropped>":
            assert int(answer.headers["Content-Length"]) == len(data)
        header_list = [
            (k, v) for k, v in answer.headers.items() if k not in ("Date", "Content-Length")
        ]
        return answer.status_code, header_list, data, kept

    def both(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> bytes:
        status, header_list, data, entry = self.send(self.prepared, method, path, body, headers)
        other = self.send(self.plain, method, path, body, headers)
        assert status == other[0], f"{method} {path}: {status} vs {other[0]}: {data[:200]!r}"
        assert header_list == other[1], f"{method} {path}"
        assert _normalised(data) == _normalised(other[2]), f"{method} {path}"
        assert entry == other[3], f"{method} {path}"
        return data


@pytest.fixture(scope="module", params=list(CONFIGS))
def pair(request: pytest.FixtureRequest) -> Iterator[Pair]:
    made = Pair(CONFIGS[request.param])
    yield made
    made.close()


SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))


@SETTINGS
@given(method=st.sampled_from(["POST", "GET"]), path=PATHS, body=BODIES, headers=HEADERS)
def test_any_request_gets_the_same_answer_on_both_paths(
    pair: Pair, method: str, path: str, body: bytes, headers: dict[str, str]
) -> None:
    pair.both(method, path, body if method == "POST" else b"", headers)


@SETTINGS
@given(body=VALID_BODIES, polls=st.integers(1, 4), scenario=st.sampled_from(["", "fail"]))
def test_a_run_created_and_polled_reads_the_same_on_both_paths(
    pair: Pair, body: bytes, polls: int, scenario: str
) -> None:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
    if scenario:
        headers[SCENARIO_HEADER] = scenario
    path = f"/v1/agents/{AGENT}/messages/async"
    created = {
        app: pair.send(app, "POST", path, body, headers) for app in (pair.prepared, pair.plain)
    }
    statuses = {app: answer[0] for app, answer in created.items()}
    assert statuses[pair.prepared] == statuses[pair.plain]
    if statuses[pair.prepared] != 200:
        return
    ids = {app: json.loads(answer[2])["id"] for app, answer in created.items()}
    for _ in range(polls):
        seen = [
            pair.send(app, "GET", f"/v1/runs/{ids[app]}", b"", headers)
            for app in (pair.prepared, pair.plain)
        ]
        assert seen[0][0] == seen[1][0] == 200
        assert _normalised(seen[0][2]) == _normalised(seen[1][2])
        assert seen[0][1] == seen[1][1]


def test_request_logging_keeps_every_request_on_flask() -> None:
    app = create_app(MockConfig(agents=[AGENT], log_requests=True))
    try:
        assert not isinstance(app.wsgi_app, PreparedDispatch)
    finally:
        app.extensions["letta_mock"].close()
