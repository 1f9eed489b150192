"""``letta-mock --replay``: a cassette recorded by ``letta-contract proxy --record`` answers
again as it was recorded (same runs, same statuses in the order polled, same messages and
errors), what it does not cover is the mock's (or a JSON 404), and a cassette that cannot be
replayed stops the mock at start with one line naming the line and why."""

from __future__ import annotations

import contextlib
import io
import json
import random
import re
import subprocess
import sys
import tempfile
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock as patching

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from letta_client import Letta

from letta_contract_kit.contract_tests.proxy import ProxyConfig, ProxyServer
from letta_contract_kit.contract_tests.proxy import cassette as proxy_cassette
from letta_contract_kit.mockserver import MockConfig, MockServer
from letta_contract_kit.mockserver.cli import main
from letta_contract_kit.schemas import raw, validator
from letta_contract_kit.schemas.contract import TERMINAL_STATUSES

pytestmark = pytest.mark.sdk

AGENT = "agent-123e4567-e89b-42d3-8456-426614174000"
QUESTION = "What is the capital of Portugal?"
REFUSAL = "letta-mock: invalid mock configuration: replay: "


# -- recording and replaying --------------------------------------------------------------


@dataclass(frozen=True)
class Flow:
    """What a client saw of one SDK flow: the run, its statuses in order, its messages."""

    run_id: str
    statuses: list[str]
    messages: list[tuple[str, str]]


def sdk_flow(base_url: str, agent_id: str, text: str = QUESTION) -> Flow:
    """Send a message with the SDK, poll the run until it ends, list its messages."""
    client = Letta(base_url=base_url, api_key="any", max_retries=0)
    run = client.agents.messages.create_async(agent_id, input=text)
    statuses = [str(run.status)]
    for _ in range(20):
        if statuses[-1] in TERMINAL_STATUSES:
            break
        statuses.append(str(client.runs.retrieve(run.id).status))
    listed = client.runs.messages.list(run.id).items
    return Flow(run.id, statuses, [(m.id, str(m.message_type)) for m in listed])


@contextlib.contextmanager
def recording(path: Path, **mock_fields: Any) -> Iterator[tuple[str, str]]:
    """A mock (per-poll clock, agent AGENT) with a recording proxy in front: (proxy URL,
    mock URL). The cassette is whole once the block ends."""
    fields: dict[str, Any] = {"clock": "per-poll", "agents": [AGENT], **mock_fields}
    with MockServer(MockConfig(**fields)) as mock:
        proxy = ProxyServer(
            ProxyConfig(upstream=mock.base_url, port=0, record=str(path)), stream=io.StringIO()
        )
        proxy.start()
        try:
            yield proxy.base_url, mock.base_url
        finally:
            proxy.stop()


def lines_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def write_lines(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), "utf-8")
    return path


def mock_command() -> list[str]:
    """The console script, or ``python -m`` where it is not installed beside the interpreter."""
    script = Path(sys.executable).with_name("letta-mock")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "letta_contract_kit.mockserver"]


@dataclass(frozen=True)
class Started:
    url: str
    note: str  # the first line on stderr
    listening: dict[str, Any]


@contextlib.contextmanager
def letta_mock(*argv: str) -> Iterator[Started]:
    """``letta-mock ARGV --port 0`` as a process, until the block ends."""
    server = subprocess.Popen(
        [*mock_command(), *argv, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None and server.stderr is not None
    try:
        note = server.stderr.readline().rstrip("\n")
        listening = json.loads(server.stdout.readline())
        assert listening["letta_mock"] == "listening", listening
        yield Started(listening["url"], note, listening)
    finally:
        server.terminate()
        server.wait(timeout=10)


def post(url: str, agent: str, body: Any, **headers: str) -> requests.Response:
    return requests.post(f"{url}/v1/agents/{agent}/messages/async", json=body, headers=headers)


def status_of(url: str, run_id: str, **headers: str) -> str:
    answer = requests.get(f"{url}/v1/runs/{run_id}", headers=headers, timeout=10)
    answer.raise_for_status()
    return str(answer.json()["status"])


@pytest.fixture(scope="module")
def recorded_flow(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Flow]:
    """The SDK flow, recorded through the proxy in front of the mock."""
    path = tmp_path_factory.mktemp("recorded") / "cassette.jsonl"
    with recording(path) as (proxy_url, _):
        flow = sdk_flow(proxy_url, AGENT)
    return path, flow


# -- 1. the SDK flow replays ----------------------------------------------------------------


def test_the_recorded_sdk_flow_replays_from_the_command_line(
    recorded_flow: tuple[Path, Flow],
) -> None:
    path, recorded = recorded_flow
    assert recorded.statuses == ["created", "running", "completed"]
    assert [kind for _, kind in recorded.messages][-1] == "assistant_message"
    with letta_mock("--replay", str(path)) as started:
        assert started.note == f"letta-mock: replaying {path}: 4 exchanges"
        assert started.listening["agents"] == []  # none of its own: the cassette's
        assert sdk_flow(started.url, AGENT) == recorded


def test_the_recorded_sdk_flow_replays_in_process_and_is_journaled(
    recorded_flow: tuple[Path, Flow],
) -> None:
    path, recorded = recorded_flow
    with MockServer(MockConfig(replay=str(path))) as mock:
        assert mock.config.agents == [AGENT]  # the cassette's agent, no new one
        assert sdk_flow(mock.base_url, AGENT) == recorded
        journaled = [(e["method"], e["status"]) for e in mock.requests()]
        assert journaled[-4:] == [("POST", 200), ("GET", 200), ("GET", 200), ("GET", 200)]


# -- 2. polls past the recording, POSTs used up -----------------------------------------------


def test_polls_past_the_recording_repeat_its_last_answer(recorded_flow: tuple[Path, Flow]) -> None:
    path, recorded = recorded_flow
    with MockServer(MockConfig(replay=str(path))) as mock:
        created = post(mock.base_url, AGENT, {"input": QUESTION}).json()
        assert (created["id"], created["status"]) == (recorded.run_id, "created")
        polled = [status_of(mock.base_url, recorded.run_id) for _ in range(6)]
        assert polled == ["running", *["completed"] * 5]


def test_the_same_body_posted_twice_gets_the_two_recorded_runs_then_a_miss(
    tmp_path: Path,
) -> None:
    path = tmp_path / "twice.jsonl"
    body = {"input": "once more", "max_steps": 2}
    with recording(path) as (proxy_url, _):
        first, second = (post(proxy_url, AGENT, body).json()["id"] for _ in range(2))
    assert first != second
    with MockServer(MockConfig(replay=str(path))) as mock:
        assert [post(mock.base_url, AGENT, body).json()["id"] for _ in range(2)] == [first, second]
        third = post(mock.base_url, AGENT, body)  # used up: the mock's own new run
        assert third.status_code == 200 and third.json()["id"] not in (first, second)
    with MockServer(MockConfig(replay=str(path), replay_miss="404")) as mock:
        assert [post(mock.base_url, AGENT, body).json()["id"] for _ in range(2)] == [first, second]
        third = post(mock.base_url, AGENT, body)
        assert third.status_code == 404
        assert third.json()["detail"].startswith(
            f"POST /v1/agents/{AGENT}/messages/async is in the cassette {path}, "
            "but its 2 recorded answers are used up"
        )


def test_a_reset_starts_the_cassette_again_for_the_next_test(
    recorded_flow: tuple[Path, Flow],
) -> None:
    path, recorded = recorded_flow
    with MockServer(MockConfig(replay=str(path))) as mock:
        assert sdk_flow(mock.base_url, AGENT) == recorded
        mock.reset()  # in process
        assert sdk_flow(mock.base_url, AGENT) == recorded
        assert requests.post(f"{mock.base_url}/_mock/reset", timeout=10).status_code == 200
        assert sdk_flow(mock.base_url, AGENT) == recorded
        assert [e["method"] for e in mock.requests()] == ["POST", "GET", "GET", "GET"]


def test_bodies_match_as_json_values_and_queries_in_any_order(tmp_path: Path) -> None:
    path = tmp_path / "values.jsonl"
    listing = f"/v1/runs/?agent_id={AGENT}&limit=5&order=asc"
    with recording(path) as (proxy_url, _):
        sent = requests.post(
            f"{proxy_url}/v1/agents/{AGENT}/messages/async",
            data=b'{"input": "hi", "max_steps": 1.0}',
            headers={"Content-Type": "application/json", "User-Agent": "recorder"},
        )
        listed = requests.get(proxy_url + listing).json()
    with MockServer(MockConfig(replay=str(path), replay_miss="404")) as mock:
        again = requests.post(  # other key order, spacing, number form and headers
            f"{mock.base_url}/v1/agents/{AGENT}/messages/async",
            data=b'{"max_steps":1,\n  "input":"hi"}',
            headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": "other"},
        )
        assert again.json() == sent.json()
        reordered = f"/v1/runs/?order=asc&limit=5&agent_id={AGENT}"
        assert requests.get(mock.base_url + reordered).json() == listed
        other_value = requests.get(f"{mock.base_url}/v1/runs/?agent_id={AGENT}&limit=6")
        assert other_value.status_code == 404


# -- 3. misses ------------------------------------------------------------------------------


def test_a_miss_is_answered_by_the_mock_itself_with_its_own_validation(
    recorded_flow: tuple[Path, Flow],
) -> None:
    path, recorded = recorded_flow
    with MockServer(MockConfig(replay=str(path), clock="per-poll")) as mock:
        new = post(mock.base_url, AGENT, {"input": "not recorded"})
        assert new.status_code == 200  # the recorded agent exists in the mock
        run = new.json()
        assert run["id"] != recorded.run_id and run["agent_id"] == AGENT
        assert [status_of(mock.base_url, run["id"]) for _ in range(2)] == ["running", "completed"]
        invalid = post(mock.base_url, AGENT, {"input": 42})
        assert invalid.status_code == 422
        assert invalid.json()["detail"][0]["loc"][:2] == ["body", "input"]
        unknown = post(mock.base_url, f"agent-{uuid.uuid4()}", {"input": "hi"})
        assert (unknown.status_code, unknown.json()) == (404, {"detail": "Agent not found"})
        mock.reset()  # the recorded agents stay, as seeded ones do
        assert post(mock.base_url, AGENT, {"input": "after reset"}).status_code == 200


def test_with_replay_miss_404_a_miss_is_a_json_404_naming_the_request(
    recorded_flow: tuple[Path, Flow],
) -> None:
    path, recorded = recorded_flow
    with letta_mock("--replay", str(path), "--replay-miss", "404") as started:
        missed = requests.get(f"{started.url}/v1/runs/{recorded.run_id}/steps?limit=2")
        assert missed.status_code == 404
        assert missed.headers["Content-Type"] == "application/json"
        detail = missed.json()["detail"]
        assert detail.startswith(
            f"GET /v1/runs/{recorded.run_id}/steps?limit=2 is not in the cassette {path} "
            "(letta-mock --replay-miss 404): requests are matched by method, path, query"
        )
        assert "not by headers" in detail
        invalid = post(started.url, AGENT, {"input": 42})  # not the mock's 422: not recorded
        assert invalid.status_code == 404 and "is not in the cassette" in invalid.json()["detail"]
        health = requests.get(f"{started.url}/v1/health/")  # the readiness probe stays
        assert health.status_code == 200 and health.json()["status"] == "ok"
        assert sdk_flow(started.url, AGENT) == recorded


# -- answers as recorded; the gate first ------------------------------------------------------


def test_errors_come_back_with_their_status_body_and_headers(tmp_path: Path) -> None:
    path = tmp_path / "errors.jsonl"
    unknown_run = f"run-{uuid.uuid4()}"
    with recording(path) as (proxy_url, _):
        not_found = requests.get(f"{proxy_url}/v1/runs/{unknown_run}")
        limited = post(proxy_url, AGENT, {"input": "busy"}, **{"X-Letta-Mock-Fault": "429:7"})
        refused = post(proxy_url, AGENT, {"messages": "not a list"})
    assert (not_found.status_code, limited.status_code, refused.status_code) == (404, 429, 422)
    with MockServer(MockConfig(replay=str(path), replay_miss="404")) as mock:
        for recorded, again in (
            (not_found, requests.get(f"{mock.base_url}/v1/runs/{unknown_run}")),
            (limited, post(mock.base_url, AGENT, {"input": "busy"})),  # no fault header now
            (refused, post(mock.base_url, AGENT, {"messages": "not a list"})),
        ):
            assert again.status_code == recorded.status_code
            assert again.content == recorded.content
            assert again.headers["Content-Type"] == recorded.headers["Content-Type"]
        assert limited.headers["Retry-After"] == "7"
        assert post(mock.base_url, AGENT, {"input": "busy"}).status_code == 404  # used up


def test_replayed_answers_need_the_token_and_faults_come_first(
    recorded_flow: tuple[Path, Flow],
) -> None:
    path, recorded = recorded_flow
    with MockServer(MockConfig(replay=str(path), token="s3cret")) as mock:
        bare = requests.get(f"{mock.base_url}/v1/runs/{recorded.run_id}")
        assert bare.status_code == 401 and bare.headers["WWW-Authenticate"] == "Bearer"
        auth = {"Authorization": "Bearer s3cret"}
        assert post(mock.base_url, AGENT, {"input": QUESTION}, **auth).json()["id"] == (
            recorded.run_id
        )
        faulted = requests.get(
            f"{mock.base_url}/v1/runs/{recorded.run_id}",
            headers={**auth, "X-Letta-Mock-Fault": "503"},
        )
        assert faulted.status_code == 503  # the fault answered: nothing of the cassette used
        assert [status_of(mock.base_url, recorded.run_id, **auth) for _ in range(2)] == [
            "running",
            "completed",
        ]


# -- the order of a cassette; what is set aside -------------------------------------------------


def test_exchanges_are_replayed_in_seq_order_and_appended_recordings_one_after_another(
    tmp_path: Path,
) -> None:
    path = tmp_path / "appended.jsonl"
    flows = []
    for _ in range(2):  # the proxy appends to the file and numbers from 1 again
        with recording(path) as (proxy_url, _):
            flows.append(sdk_flow(proxy_url, AGENT))
    lines = lines_of(path)
    assert [line["seq"] for line in lines] == [1, 2, 3, 4, 1, 2, 3, 4]
    first, second = lines[:4], lines[4:]
    random.Random(7).shuffle(first)
    random.Random(8).shuffle(second)
    shuffled = write_lines(tmp_path / "shuffled.jsonl", first + second)
    with MockServer(MockConfig(replay=str(shuffled), replay_miss="404")) as mock:
        assert [sdk_flow(mock.base_url, AGENT) for _ in range(2)] == flows


def test_what_the_proxy_answered_itself_and_cut_bodies_are_set_aside_with_a_note(
    tmp_path: Path, recorded_flow: tuple[Path, Flow]
) -> None:
    path, recorded = recorded_flow
    lines = lines_of(path)
    unreachable = tmp_path / "unreachable.jsonl"
    proxy = ProxyServer(
        ProxyConfig(upstream="http://127.0.0.1:9", port=0, record=str(unreachable)),
        stream=io.StringIO(),
    )
    proxy.start()
    try:
        assert requests.get(f"{proxy.base_url}/v1/runs/?limit=3").status_code == 502
    finally:
        proxy.stop()
    (by_proxy,) = lines_of(unreachable)
    assert by_proxy["response"]["answered_by"] == "proxy"
    cut = {**lines[3], "seq": 6}
    cut["response"] = {**cut["response"], "body": {**cut["response"]["body"], "truncated": True}}
    admin = {**lines[1], "seq": 7, "path": "/_mock/clock", "run_id": None}
    mixed = write_lines(tmp_path / "mixed.jsonl", [*lines, {**by_proxy, "seq": 5}, cut, admin])
    assert all(validator("cassette-line").problems(line) == [] for line in lines_of(mixed))
    with letta_mock("--replay", str(mixed), "--replay-miss", "404") as started:
        assert started.note == (
            f"letta-mock: replaying {mixed}: 4 exchanges; not replayed: "
            "1 answered by the proxy itself (line 5); "
            "1 with a body kept cut (truncated) (line 6); "
            "1 of the mock's own /_mock routes (line 7)"
        )
        assert requests.get(f"{started.url}/v1/runs/?limit=3").status_code == 404
        assert requests.get(f"{started.url}/_mock/clock").json()["mode"] == "wall"
        assert sdk_flow(started.url, AGENT) == recorded


# -- 4. cassettes that cannot be replayed ---------------------------------------------------------


def refusal(argv: list[str]) -> tuple[int, str]:
    """``letta-mock ARGV`` in this process, never serving: its exit code and stderr."""
    err = io.StringIO()
    with (
        patching.patch("letta_contract_kit.mockserver.server.serve") as serve,
        contextlib.redirect_stderr(err),
    ):
        code = main(argv)
    assert code != 0 or serve.called  # 0: it went on to serve (not here: patched)
    return code, err.getvalue()


def test_a_missing_cassette_is_refused_by_the_command_in_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "absent.jsonl"
    done = subprocess.run(
        [*mock_command(), "--replay", str(missing), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        f"{REFUSAL}cannot read the cassette {missing}: No such file or directory; "
        "record one with letta-contract proxy --record FILE\n"
    )


@pytest.mark.parametrize(
    ("corrupt", "reason"),
    [
        (lambda line: line[: len(line) // 2], "line 3: not JSON: "),
        (
            lambda line: line.replace('"seq": 3', '"seq": "3"'),
            "line 3: does not follow schemas/cassette-line.json: seq: '3' is not of type "
            "'integer' [type]",
        ),
        (
            lambda line: line.replace('"version": 1', '"version": 2'),
            "line 3: version 2 is not one this mock reads (it reads version 1 of the "
            "letta-contract-proxy cassette)",
        ),
        (
            lambda line: line.replace('"status": 200', '"status": 200, "reason": "OK"'),
            "line 3: does not follow schemas/cassette-line.json: response: Additional "
            "properties are not allowed ('reason' was unexpected) [additionalProperties]",
        ),
    ],
    ids=["not-json", "schema", "version", "unknown-field"],
)
def test_a_bad_line_is_refused_with_its_number_and_why(
    tmp_path: Path,
    recorded_flow: tuple[Path, Flow],
    corrupt: Callable[[str], str],
    reason: str,
) -> None:
    lines = recorded_flow[0].read_text("utf-8").splitlines()
    lines[2] = corrupt(lines[2])
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n", "utf-8")
    code, err = refusal(["--replay", str(bad)])
    assert code == 2
    assert err.startswith(f"{REFUSAL}{bad} {reason}") and err.count("\n") == 1, err


def test_replay_with_several_worker_processes_is_refused(recorded_flow: tuple[Path, Flow]) -> None:
    argv = ["--replay", str(recorded_flow[0]), "--server", "granian", "--workers", "2"]
    code, err = refusal([*argv, "--store", "sqlite", "--sqlite-path", "/tmp/unused.db"])
    assert code == 2 and err.count("\n") == 1
    assert "replay needs workers 1: each worker process would keep its own place" in err


LINE = raw("cassette-line")
REQUIRED: list[str] = LINE["required"]
METHOD = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
NOT_NEWLINE = st.characters(blacklist_categories=("Cs",), blacklist_characters="\n")


def _not_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return bool(text.strip())
    return False


# (where in the line, values the schema refuses there, what the refusal names)
WRONG_VALUES: list[tuple[tuple[str, ...], st.SearchStrategy[Any], str]] = [
    (("seq",), st.integers(max_value=0) | st.text(max_size=5) | st.booleans(), "seq: "),
    (("at",), st.sampled_from(["yesterday", "", "2026-12-03", 20261203]), "at: "),
    (("method",), st.text(max_size=8).filter(lambda m: not METHOD.fullmatch(m)), "method: "),
    (("path",), st.text(NOT_NEWLINE, max_size=8).filter(lambda p: not p.startswith("/")), "path: "),
    (("query",), st.integers() | st.none(), "query: "),
    (("request", "headers"), st.just({"Accept": 1}), "request/headers/Accept: "),
    (
        ("request", "body"),
        st.sampled_from([{"text": 1}, {"text": "a", "base64": "YQ=="}, {"truncated": True}, "a"]),
        "request/body",
    ),
    (("response", "status"), st.integers().filter(lambda s: not 100 <= s <= 599), "status: "),
    (
        ("response", "answered_by"),
        st.text(max_size=8).filter(lambda a: a not in ("upstream", "proxy")),
        "response/answered_by: ",
    ),
    (("response", "body"), st.just({"base64": "not base64!"}), "response/body/base64: "),
    (("redacted_headers",), st.just("Authorization"), "redacted_headers: "),
    (("elapsed_ms",), st.floats(max_value=-0.001, allow_infinity=False), "elapsed_ms: "),
    (("run_id",), st.integers(), "run_id: "),
]


# Each way a line is broken; a wrong value is one way per field.
KINDS = [
    "cut",
    "text",
    "bytes",
    "not-object",
    "missing",
    "unknown",
    "version",
    "kind",
    *(f"wrong {'/'.join(where)}" for where, _, _ in WRONG_VALUES),
]


@st.composite
def corruptions(draw: st.DrawFn, lines: list[bytes], kind: str) -> tuple[list[bytes], int, str]:
    """A recorded cassette with one line broken the ``kind`` way: (its lines, the line's
    number, a part of the reason the refusal must give)."""
    index = draw(st.integers(0, len(lines) - 1))
    line = lines[index]
    entry = json.loads(line)
    reason: str
    if kind == "cut":
        broken = line[: draw(st.integers(1, len(line) - 1))]
        try:
            broken.decode("utf-8")
            reason = "not JSON: "
        except UnicodeDecodeError:  # cut inside a character
            reason = "not UTF-8 text"
    elif kind == "text":
        broken = draw(st.text(NOT_NEWLINE, min_size=1).filter(_not_json)).encode("utf-8")
        reason = "not JSON"
    elif kind == "bytes":
        at = draw(st.integers(0, len(line)))
        broken = line[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\x80"])) + line[at:]
        reason = "not UTF-8 text"
    elif kind == "not-object":
        value = draw(st.integers() | st.lists(st.booleans(), max_size=3) | st.text() | st.none())
        broken = json.dumps(value).encode()
        reason = "is not of type 'object'"
    elif kind == "missing":
        field = draw(st.sampled_from(REQUIRED))
        del entry[field]
        broken = json.dumps(entry).encode()
        reason = f"{field}: Field required"
    elif kind == "unknown":
        name = draw(st.text(min_size=1, max_size=10).filter(lambda n: n not in LINE["properties"]))
        entry[name] = draw(st.integers() | st.text(max_size=5))
        broken = json.dumps(entry).encode()
        reason = "Additional properties are not allowed"
    elif kind.startswith("wrong "):
        where, values, reason = WRONG_VALUES[KINDS.index(kind) - len(KINDS) + len(WRONG_VALUES)]
        parent = entry
        for key in where[:-1]:
            parent = parent[key]
        parent[where[-1]] = draw(values)
        broken = json.dumps(entry).encode()
    elif kind == "kind":
        entry["cassette"] = draw(st.text(max_size=30).filter(lambda k: k != entry["cassette"]))
        broken = json.dumps(entry).encode()
        reason = "not a line of a letta-contract-proxy cassette (its cassette is "
    else:
        entry["version"] = draw(
            st.integers().filter(lambda v: v != 1) | st.text(max_size=5) | st.just(1.5)
        )
        broken = json.dumps(entry).encode()
        reason = "is not one this mock reads (it reads version 1"
    corrupted = [*lines[:index], broken, *lines[index + 1 :]]
    return corrupted, index + 1, reason


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=12)
@given(data=st.data())
def test_every_corruption_of_a_recorded_cassette_is_one_line_of_refusal(
    recorded_flow: tuple[Path, Flow], kind: str, data: st.DataObject
) -> None:
    lines = recorded_flow[0].read_bytes().splitlines()
    corrupted, number, reason = data.draw(corruptions(lines, kind))
    with tempfile.TemporaryDirectory() as folder:
        bad = Path(folder) / "corrupted.jsonl"
        bad.write_bytes(b"\n".join(corrupted) + b"\n")
        code, err = refusal(["--replay", str(bad), "--port", "0"])
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"{REFUSAL}{bad} line {number}: "), err
    assert reason in err, err


# -- 5. concurrency ----------------------------------------------------------------------------


def polled_run_cassette(path: Path, run_id: str, polls: int) -> Path:
    """A cassette of one run polled ``polls`` times, each answer numbered in ``X-Poll`` (the
    last completed), its lines shuffled."""
    lines = []
    for seq in range(1, polls + 1):
        status = "completed" if seq == polls else "running"
        body = json.dumps({"id": run_id, "status": status}).encode()
        lines.append(
            proxy_cassette.line(
                seq=seq,
                at=datetime.now(UTC),
                method="GET",
                path=f"/v1/runs/{run_id}",
                query="",
                request_headers=[("Accept", "application/json")],
                request_body=b"",
                status=200,
                response_headers=[("Content-Type", "application/json"), ("X-Poll", str(seq))],
                response_body=body,
                elapsed=0.001,
                run_id=run_id,
            )
        )
    random.Random(3).shuffle(lines)
    return write_lines(path, lines)


def test_threads_polling_one_replayed_run_share_its_recording_consistently(
    tmp_path: Path,
) -> None:
    run_id, polls, threads, each = f"run-{uuid.uuid4()}", 30, 8, 10
    path = polled_run_cassette(tmp_path / "polled.jsonl", run_id, polls)
    seen: dict[int, list[tuple[int, str]]] = {}
    failures: list[BaseException] = []
    with MockServer(MockConfig(replay=str(path), replay_miss="404", threads=threads)) as mock:
        start = threading.Barrier(threads)

        def poll(worker: int) -> None:
            try:
                with requests.Session() as session:
                    start.wait()
                    mine = seen[worker] = []
                    for _ in range(each):
                        answer = session.get(f"{mock.base_url}/v1/runs/{run_id}", timeout=10)
                        assert answer.status_code == 200, answer.text
                        mine.append((int(answer.headers["X-Poll"]), answer.json()["status"]))
            except BaseException as exc:
                failures.append(exc)

        workers = [threading.Thread(target=poll, args=(n,)) for n in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=60)
    assert failures == []
    for answers in seen.values():
        numbers = [number for number, _ in answers]
        assert numbers == sorted(numbers)  # never back
        assert all((status == "completed") == (number == polls) for number, status in answers)
    given = Counter(number for answers in seen.values() for number, _ in answers)
    assert {n: given[n] for n in range(1, polls)} == dict.fromkeys(range(1, polls), 1)
    assert given[polls] == threads * each - (polls - 1)
