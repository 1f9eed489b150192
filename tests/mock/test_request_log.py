"""``--log-requests``: one line per request on stderr, as text or JSON; nothing when off."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from letta_contract_kit.mockserver.request_log import log_requests

from .conftest import AGENT, post_async

TEXT_LINE = re.compile(
    r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (?P<method>[A-Z]+) (?P<path>\S+) (?P<status>\d{3}) "
    r"(?P<ms>\d+\.\d) ms(?: (?P<run>run-\S+))?"
)


def lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().err.splitlines()


def test_off_by_default_nothing_is_written_and_no_hook_is_installed(
    make_client: Callable[..., FlaskClient], capsys: pytest.CaptureFixture[str]
) -> None:
    client = make_client()
    post_async(client)
    assert lines(capsys) == []
    app = client.application
    hooks = [*app.before_request_funcs.get(None, []), *app.after_request_funcs.get(None, [])]
    assert hooks and not [hook for hook in hooks if hook.__module__ == log_requests.__module__]


def test_text_lines_give_method_path_status_milliseconds_and_run_id(
    make_client: Callable[..., FlaskClient], capsys: pytest.CaptureFixture[str]
) -> None:
    client = make_client(log_requests=True)
    run_id = post_async(client).get_json()["id"]
    client.get(f"/v1/runs/{run_id}")
    client.get("/v1/health/")
    client.get("/v1/runs/run-not-a-run")
    found = [TEXT_LINE.fullmatch(line) for line in lines(capsys)]
    assert all(found), found
    seen = [(m["method"], m["path"], m["status"], m["run"]) for m in found if m]
    assert seen == [
        ("POST", f"/v1/agents/{AGENT}/messages/async", "200", run_id),
        ("GET", f"/v1/runs/{run_id}", "200", run_id),
        ("GET", "/v1/health/", "200", None),
        ("GET", "/v1/runs/run-not-a-run", "400", "run-not-a-run"),
    ]


def test_json_lines_are_one_object_each(
    make_client: Callable[..., FlaskClient], capsys: pytest.CaptureFixture[str]
) -> None:
    client = make_client(log_requests=True, log_format="json")
    run_id = post_async(client).get_json()["id"]
    post_async(client, {"input": 3})
    client.get("/nowhere")
    entries = [json.loads(line) for line in lines(capsys)]
    assert [set(e) for e in entries] == [{"at", "method", "path", "status", "ms", "run_id"}] * 3
    assert [(e["method"], e["status"], e["run_id"]) for e in entries] == [
        ("POST", 200, run_id),
        ("POST", 422, None),
        ("GET", 404, None),
    ]
    assert all(isinstance(e["ms"], float) and e["ms"] >= 0 for e in entries)


def test_the_time_of_an_injected_latency_is_counted(
    make_client: Callable[..., FlaskClient], capsys: pytest.CaptureFixture[str]
) -> None:
    client = make_client(log_requests=True, log_format="json")
    client.get("/v1/health/", headers={"X-Letta-Mock-Fault": "latency:0.05"})
    (entry,) = [json.loads(line) for line in lines(capsys)]
    assert entry["ms"] >= 50


def test_a_dropped_connection_is_logged_without_reading_its_body(
    make_client: Callable[..., FlaskClient], capsys: pytest.CaptureFixture[str]
) -> None:
    client = make_client(log_requests=True, log_format="json")
    answer = post_async(client, headers={"X-Letta-Mock-Fault": "drop"})
    (entry,) = [json.loads(line) for line in lines(capsys)]
    assert (entry["status"], entry["run_id"]) == (200, None)
    answer.close()
