"""The letta-0.16.8 compatibility profile: every quirk on in it, off by default, switchable alone."""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import fields
from datetime import datetime
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from flask.testing import FlaskClient
from letta_client import Letta, UnprocessableEntityError

from letta_contract_kit.mockserver import MockConfig, MockServer
from letta_contract_kit.mockserver.cli import config_from_args, main
from letta_contract_kit.mockserver.compat import (
    COMPAT_PROFILE,
    PROFILE_QUIRKS,
    QUIRK_NAMES,
    QUIRKS,
    Quirks,
    resolve,
)
from letta_contract_kit.mockserver.config import PROFILES, config_from_mapping
from letta_contract_kit.mockserver.plugin import split_quirks
from letta_contract_kit.mockserver.profiles import image_fetch_error
from letta_contract_kit.schemas import validator
from letta_contract_kit.schemas.contract import RUN_FIELDS, TERMINAL_STATUSES

from .conftest import AGENT, poll_to_end, post_async
from .receiver import Receiver

MakeClient = Callable[..., FlaskClient]
IN_STRICT = {q.name for q in QUIRKS if q.in_strict}
ATTRIBUTE = {q.name: f.name for q, f in zip(QUIRKS, fields(Quirks), strict=True)}
IMAGE_URL = "https://images.example.org/cat.png"


def statuses(client: FlaskClient, body: dict[str, Any] | None = None) -> list[str]:
    answer = post_async(client, body)
    assert answer.status_code == 200, answer.get_json()
    first = answer.get_json()
    return [first["status"], *(run["status"] for run in poll_to_end(client, first["id"]))]


def ended(client: FlaskClient, body: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
    """The POST's status code, and the run it started once it has ended (None: no run)."""
    answer = post_async(client, body)
    if answer.status_code != 200:
        return answer.status_code, None
    return 200, poll_to_end(client, answer.get_json()["id"])[-1]


def failed_with(client: FlaskClient, body: dict[str, Any], prefix: str) -> bool:
    code, run = ended(client, body)
    return (
        code == 200
        and run is not None
        and (run["status"], run["stop_reason"]) == ("failed", "error")
        and str(run["metadata"].get("error", "")).startswith(prefix)
    )


def naive(stamp: str) -> bool:
    return datetime.fromisoformat(stamp).tzinfo is None


def wait_for_callbacks(client: FlaskClient) -> None:
    answer = client.post("/_mock/callbacks/wait", json={"timeout": 10}).get_json()
    assert answer == {"delivered": True}


def callback_body(client: FlaskClient) -> dict[str, Any]:
    with Receiver() as receiver:
        _, run = ended(client, {"input": "hi", "callback_url": receiver.url})
        wait_for_callbacks(client)
    assert run is not None and len(receiver.received) == 1
    payload: dict[str, Any] = receiver.received[0]
    return payload


# -- one probe per quirk: True when the quirk's behaviour shows ------------------------------


def _no_running_status(client: FlaskClient) -> bool:
    seen = statuses(client)
    assert seen[-1] == "completed"
    return "running" not in seen


def _naive_completed_at(client: FlaskClient) -> bool:
    _, run = ended(client, {"input": "hi"})
    assert run is not None
    return naive(run["completed_at"])


def _ttft_null(client: FlaskClient) -> bool:
    _, run = ended(client, {"input": "hi"})
    assert run is not None and run["status"] == "completed"
    return run["ttft_ns"] is None


def _duration_listing_only(client: FlaskClient) -> bool:
    _, run = ended(client, {"input": "hi"})
    assert run is not None
    service = client.application.extensions["letta_mock"]
    later = service.clock.now() + 2
    with patch.object(service.clock, "now", return_value=later):
        (listed,) = [r for r in client.get("/v1/runs/").get_json() if r["id"] == run["id"]]
    assert isinstance(listed["total_duration_ns"], int) and listed["total_duration_ns"] >= 0
    return run["total_duration_ns"] is None


def _string_422_detail(client: FlaskClient) -> bool:
    answer = post_async(client, {"input": "hi", "max_steps": "five"})
    assert answer.status_code == 422
    body = answer.get_json()
    return isinstance(body["detail"], str) and bool(body.get("trace_id") == "")


def _path_id_422_examples(client: FlaskClient) -> bool:
    answer = post_async(client, agent="agent-123")
    assert answer.status_code == 422
    examples = answer.get_json().get("examples")
    return bool(examples == ["agent-123e4567-e89b-42d3-8456-426614174000"])


def _background_validation(client: FlaskClient) -> bool:
    return failed_with(client, {"messages": []}, "list index out of range")


def _union_tag_required(client: FlaskClient) -> bool:
    return post_async(client, {"input": [{"text": "hi"}]}).status_code == 422


def _unknown_override_model(client: FlaskClient) -> bool:
    body = {"input": "hi", "override_model": "nope/does-not-exist"}
    return failed_with(client, body, "NOT_FOUND: Handle nope/does-not-exist not found")


def _image_url(client: FlaskClient) -> bool:
    image = {"type": "image", "source": {"type": "url", "url": IMAGE_URL}}
    return failed_with(client, {"input": [image]}, "INVALID_ARGUMENT: Failed to fetch image")


APPROVAL = {"messages": [{"type": "approval", "approve": True, "approval_request_id": "m1"}]}


def _approval_needs_pending_request(client: FlaskClient) -> bool:
    return failed_with(client, APPROVAL, "Cannot process approval response: No tool call")


def _zero_steps_run(client: FlaskClient) -> bool:
    answer = post_async(client, {"input": "hi", "max_steps": 0})
    run = poll_to_end(client, answer.get_json()["id"])[-1]
    assert (run["status"], run["stop_reason"]) == ("completed", "end_turn")
    messages = client.get(f"/v1/runs/{run['id']}/messages").get_json()
    steps = client.get(f"/v1/runs/{run['id']}/steps").get_json()
    return messages == [] and steps == []


def _cancel_overwritten(client: FlaskClient) -> bool:
    run_id = post_async(client).get_json()["id"]
    client.get(f"/v1/runs/{run_id}")  # the step is under way
    answer = client.post(f"/v1/agents/{AGENT}/messages/cancel", json={"run_ids": [run_id]})
    assert answer.get_json() == {run_id: "cancelled"}
    seen = [client.get(f"/v1/runs/{run_id}").get_json() for _ in range(3)]
    assert seen[0]["status"] == "cancelled"
    return bool(seen[-1]["status"] == "completed")


def _cancel_skips_agent_check(client: FlaskClient) -> bool:
    unknown = "agent-00000000-0000-4000-8000-0000000000ff"
    answer = client.post(f"/v1/agents/{unknown}/messages/cancel")
    assert answer.status_code in (404, 409)
    return bool(answer.status_code == 409)


def _run_id_trailing_newline(client: FlaskClient) -> bool:
    run_id = post_async(client).get_json()["id"]
    answer = client.get(f"/v1/runs/{run_id}%0A")
    assert answer.status_code in (400, 404)
    return bool(answer.status_code == 404)


def _bare_redirect(client: FlaskClient) -> bool:
    answer = client.get("/v1/runs")
    assert answer.status_code == 307 and answer.headers["Location"].endswith("/v1/runs/")
    return answer.data == b"" and "Content-Type" not in answer.headers


def _allow_patch_on_405(client: FlaskClient) -> bool:
    answer = client.get(f"/v1/agents/{AGENT}/messages/async")
    assert answer.status_code == 405
    return bool(answer.headers["Allow"] == "PATCH")


def _cancel_answers_after_callback(client: FlaskClient) -> bool:
    with Receiver(delay=0.5) as receiver:
        run_id = post_async(client, {"input": "hi", "callback_url": receiver.url}).get_json()["id"]
        client.post(f"/v1/agents/{AGENT}/messages/cancel", json={"run_ids": [run_id]})
        recorded = client.get(f"/v1/runs/{run_id}").get_json()["callback_status_code"]
        wait_for_callbacks(client)
    return bool(recorded == 200)


def _callback_sent_at_on_failure(client: FlaskClient) -> bool:
    _, run = ended(client, {"input": "hi", "callback_url": "not a url"})
    assert run is not None
    wait_for_callbacks(client)
    recorded = client.get(f"/v1/runs/{run['id']}").get_json()
    assert recorded["callback_error"] and recorded["callback_status_code"] is None
    return recorded["callback_sent_at"] is not None


def _delete_run_500(client: FlaskClient) -> bool:
    run_id = post_async(client, {"input": "hi"}).get_json()["id"]
    answer = client.delete(f"/v1/runs/{run_id}")
    assert client.get(f"/v1/runs/{run_id}").status_code == 200  # never deleted
    if answer.status_code == 405:
        return False
    return bool(answer.get_json() == {"detail": "An unknown error occurred"})


def _httpx_callback_client(client: FlaskClient) -> bool:
    with Receiver() as receiver:
        ended(client, {"input": "hi", "callback_url": receiver.url})
        wait_for_callbacks(client)
    assert len(receiver.headers) == 1
    headers = receiver.headers[0]
    assert headers["Content-Type"] == "application/json"
    return headers["User-Agent"] == "python-httpx/0.28.1" and headers["Accept"] == "*/*"


def _lax_coercion(client: FlaskClient) -> bool:
    return bool(post_async(client, {"input": "hi", "max_steps": "2"}).status_code == 200)


def _callback_result_metadata(client: FlaskClient) -> bool:
    return "result" in callback_body(client)["metadata"]


PROBES: dict[str, Callable[[FlaskClient], bool]] = {
    "no-running-status": _no_running_status,
    "naive-completed-at": _naive_completed_at,
    "ttft-null": _ttft_null,
    "duration-listing-only": _duration_listing_only,
    "string-422-detail": _string_422_detail,
    "path-id-422-examples": _path_id_422_examples,
    "background-validation": _background_validation,
    "union-tag-required": _union_tag_required,
    "unknown-override-model-fails-run": _unknown_override_model,
    "image-url-fetched-in-background": _image_url,
    "approval-needs-pending-request": _approval_needs_pending_request,
    "zero-steps-run": _zero_steps_run,
    "cancel-overwritten-by-completion": _cancel_overwritten,
    "cancel-skips-agent-check": _cancel_skips_agent_check,
    "run-id-trailing-newline": _run_id_trailing_newline,
    "bare-redirect": _bare_redirect,
    "405-allow-patch": _allow_patch_on_405,
    "cancel-answers-after-callback": _cancel_answers_after_callback,
    "callback-sent-at-on-failure": _callback_sent_at_on_failure,
    "delete-run-500": _delete_run_500,
    "httpx-callback-client": _httpx_callback_client,
    "lax-coercion": _lax_coercion,
    "callback-result-metadata": _callback_result_metadata,
}


def test_every_quirk_has_a_probe() -> None:
    assert set(PROBES) == QUIRK_NAMES


@pytest.mark.parametrize("name", sorted(QUIRK_NAMES))
def test_the_compat_profile_shows_the_quirk(name: str, make_client: MakeClient) -> None:
    assert PROBES[name](make_client(profile=COMPAT_PROFILE)) is True


@pytest.mark.parametrize("name", sorted(QUIRK_NAMES))
def test_the_default_profile_shows_only_its_own_quirks(name: str, make_client: MakeClient) -> None:
    assert PROBES[name](make_client()) is (name in IN_STRICT)


@pytest.mark.parametrize("name", sorted(QUIRK_NAMES - IN_STRICT))
def test_a_quirk_switches_on_alone(name: str, make_client: MakeClient) -> None:
    client = make_client(quirks=[name])
    assert client.application.extensions["letta_mock"].quirks.names() == IN_STRICT | {name}
    assert getattr(resolve("strict", on=[name]), ATTRIBUTE[name]) is True
    assert PROBES[name](client) is True


@pytest.mark.parametrize("name", sorted(QUIRK_NAMES))
def test_a_quirk_switches_off_alone(name: str, make_client: MakeClient) -> None:
    client = make_client(profile=COMPAT_PROFILE, no_quirks=[name])
    assert client.application.extensions["letta_mock"].quirks.names() == QUIRK_NAMES - {name}
    assert PROBES[name](client) is False


# -- the registry and how it is chosen -------------------------------------------------------


def test_every_quirk_is_named_described_and_traced_to_the_findings() -> None:
    assert len({q.name for q in QUIRKS}) == len(QUIRKS)
    for quirk in QUIRKS:
        assert quirk.summary and quirk.finding, quirk


def test_the_profiles_are_the_config_profiles() -> None:
    assert set(PROFILE_QUIRKS) == set(PROFILES) == {"strict", COMPAT_PROFILE}
    assert PROFILE_QUIRKS[COMPAT_PROFILE] == QUIRK_NAMES
    assert PROFILE_QUIRKS["strict"] == {
        "lax-coercion",
        "callback-result-metadata",
        "background-validation",
    }


def test_a_quirk_name_is_its_attribute_name_unless_it_says_otherwise() -> None:
    renamed = {
        name: attribute
        for name, attribute in ATTRIBUTE.items()
        if name.replace("-", "_") != attribute
    }
    assert renamed == {"405-allow-patch": "allow_patch_on_405"}


def test_resolve_adds_then_removes_and_refuses_unknown_names() -> None:
    both = resolve("strict", on=["ttft-null", "no-running-status"], off=["no-running-status"])
    assert both.ttft_null and not both.no_running_status
    assert both.names() == IN_STRICT | {"ttft-null"}
    with pytest.raises(ValueError, match="unknown quirks nope"):
        resolve("strict", on=["nope"])
    with pytest.raises(ValueError, match="unknown profile"):
        resolve("letta-9")


def test_an_unknown_quirk_in_the_config_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="unknown quirks nope"):
        MockConfig(quirks=["nope"])


def test_cli_flags_choose_the_profile_and_single_quirks() -> None:
    config = config_from_args(["--compat", COMPAT_PROFILE, "--no-quirk", "ttft-null"])
    assert config.profile == COMPAT_PROFILE
    assert config.quirk_set.names() == QUIRK_NAMES - {"ttft-null"}
    config = config_from_args(["--quirk", "naive-completed-at", "--image-host", "cdn.test"])
    assert config.profile == "strict"
    assert config.quirk_set.names() == IN_STRICT | {"naive-completed-at"}
    assert config.image_hosts == ["cdn.test"]


def test_an_unknown_quirk_flag_exits_with_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        config_from_args(["--quirk", "nope"])
    assert exit_.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_list_quirks_prints_every_quirk_and_its_profiles(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--list-quirks"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == [q.name for q in QUIRKS]
    assert all(COMPAT_PROFILE in line for line in lines)


def test_a_config_file_key_compat_names_the_profile() -> None:
    config = config_from_mapping({"compat": COMPAT_PROFILE, "no-quirks": ["lax-coercion"]})
    assert config.profile == COMPAT_PROFILE and not config.quirk_set.lax_coercion
    with pytest.raises(ValueError, match="disagree"):
        config_from_mapping({"compat": COMPAT_PROFILE, "profile": "strict"})


def test_the_plugins_quirk_list_switches_on_and_off() -> None:
    assert split_quirks("ttft-null, -lax-coercion,,") == (["ttft-null"], ["lax-coercion"])


def test_mock_server_takes_the_profile_as_a_keyword() -> None:
    server = MockServer(profile=COMPAT_PROFILE, quirks=[], no_quirks=["ttft-null"])
    assert server.config.quirk_set == Quirks(
        **{ATTRIBUTE[name]: True for name in QUIRK_NAMES - {"ttft-null"}}
    )


# -- details the real server shows -----------------------------------------------------------


@pytest.fixture
def compat(make_client: MakeClient) -> FlaskClient:
    return make_client(profile=COMPAT_PROFILE)


def test_a_compat_run_goes_created_to_completed_and_changes_its_end_fields_at_once(
    compat: FlaskClient,
) -> None:
    first = post_async(compat).get_json()
    seen = poll_to_end(compat, first["id"])
    assert [first["status"], *(r["status"] for r in seen)] == ["created", "created", "completed"]
    assert all(r["completed_at"] is None and r["stop_reason"] is None for r in seen[:-1])
    last = seen[-1]
    assert last["created_at"].endswith("Z") and naive(last["completed_at"])
    assert (last["ttft_ns"], last["total_duration_ns"]) == (None, None)
    assert last["metadata"] == {"run_type": "send_message_async", "lettuce": None}
    assert tuple(last) == RUN_FIELDS


def test_a_compat_run_is_the_documented_run_but_for_its_naive_end_time(
    compat: FlaskClient,
) -> None:
    _, run = ended(compat, {"input": "hi"})
    assert run is not None
    problems = validator("run", "server").problems(run)
    assert [p.location for p in problems] == [("completed_at",)]
    assert validator("naive-date-time").problems(run["completed_at"]) == []
    assert validator("run", "server").problems({**run, "completed_at": None}) == []


def test_the_422_detail_is_the_repr_of_the_error_list(compat: FlaskClient) -> None:
    answer = post_async(compat, {"input": "hi", "max_steps": "five"}, agent="agent-123")
    body = answer.get_json()
    assert list(body) == ["trace_id", "detail", "examples"]
    items = ast.literal_eval(body["detail"])
    assert items[0] == {
        "type": "string_pattern_mismatch",
        "loc": ("path", "agent_id"),
        "msg": "String should match pattern 'agent-{uuid4}'",
        "input": "agent-123",
        "ctx": {
            "pattern": "^agent-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
        },
    }
    assert [(i["type"], i["loc"]) for i in items[1:]] == [("type", ("body", "max_steps"))]
    assert validator("http-validation-error", "server").problems(body) == []


def test_a_listing_shows_the_duration_only_a_moment_after_the_end(
    make_client: MakeClient,
) -> None:
    client = make_client(profile=COMPAT_PROFILE, clock="virtual")
    service = client.application.extensions["letta_mock"]
    run_id = post_async(client).get_json()["id"]
    service.advance_clock(1)
    assert service.get_run(run_id)["status"] == "completed"
    listed = client.get("/v1/runs/").get_json()[0]
    assert (listed["id"], listed["total_duration_ns"]) == (run_id, None)
    service.advance_clock(1.5)
    listed = client.get("/v1/runs/").get_json()[0]
    assert abs(listed["total_duration_ns"] - 0.55e9) < 1e3
    assert client.get(f"/v1/runs/{run_id}").get_json()["total_duration_ns"] is None


def test_a_body_only_422_has_no_examples(compat: FlaskClient) -> None:
    body = post_async(compat, {"input": "hi", "max_steps": "five"}).get_json()
    assert list(body) == ["trace_id", "detail"]


def test_examples_alone_keep_the_documented_list_shape(make_client: MakeClient) -> None:
    client = make_client(quirks=["path-id-422-examples"])
    body = post_async(client, agent="agent-123").get_json()
    assert body["examples"] == ["agent-123e4567-e89b-42d3-8456-426614174000"]
    assert body["detail"][0]["msg"] == "String should match pattern 'agent-{uuid4}'"
    assert validator("http-validation-error", "documented").problems(body) == []


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"messages": []}, "list index out of range"),
        ({"input": ""}, "Message content is empty or invalid"),
        ({"input": []}, "Message content is empty or invalid"),
        ({"messages": [{"role": "user", "content": ""}]}, "Message content is empty or invalid"),
        (
            {"input": "hi", "override_model": "openai/gpt-4o-mini"},
            "NOT_FOUND: Handle openai/gpt-4o-mini not found, must be one of []",
        ),
        (
            {"input": [{"type": "image", "source": {"type": "url", "url": "file:///cat.png"}}]},
            "INVALID_ARGUMENT: Unsupported image URL scheme 'file'.",
        ),
    ],
)
def test_problems_found_in_the_background_fail_the_run(
    compat: FlaskClient, body: dict[str, Any], error: str
) -> None:
    answer = post_async(compat, body)
    assert answer.status_code == 200 and answer.get_json()["status"] == "created"
    run = poll_to_end(compat, answer.get_json()["id"])[-1]
    assert (run["status"], run["stop_reason"]) == ("failed", "error")
    assert run["metadata"]["error"].startswith(error)
    assert compat.get(f"/v1/runs/{run['id']}/messages").get_json() == []


def test_a_background_failure_wins_over_the_scenario(compat: FlaskClient) -> None:
    answer = post_async(compat, {"messages": []}, headers={"X-Letta-Mock-Scenario": "succeed"})
    run = poll_to_end(compat, answer.get_json()["id"])[-1]
    assert run["status"] == "failed"


def test_known_model_handles_and_allowed_images_run_normally(make_client: MakeClient) -> None:
    client = make_client(profile=COMPAT_PROFILE, image_hosts=["images.example.org"])
    data_url = "data:image/png;base64,iVBORw0KGgo="
    for source in (IMAGE_URL, data_url):
        part = {"type": "image", "source": {"type": "url", "url": source}}
        _, run = ended(client, {"input": [part], "override_model": "mock/letta-mock-model"})
        assert run is not None and run["status"] == "completed", source


def test_image_fetch_rule() -> None:
    assert image_fetch_error("data:image/png;base64,AAAA", []) is None
    assert image_fetch_error("https://a.test/x.png", ["a.test"]) is None
    assert image_fetch_error("https://a.test/x.png", ["*"]) is None
    refused = image_fetch_error("https://b.test/x.png", ["a.test"])
    assert refused is not None and refused.startswith(
        "INVALID_ARGUMENT: Failed to fetch image from https://b.test/x.png: "
    )
    scheme = image_fetch_error("ftp://a.test/x.png", ["*"])
    assert scheme is not None and "Unsupported image URL scheme 'ftp'" in scheme


def test_an_approval_runs_once_the_last_run_asked_for_one(compat: FlaskClient) -> None:
    asked = post_async(compat, headers={"X-Letta-Mock-Scenario": "stop:requires_approval"})
    assert poll_to_end(compat, asked.get_json()["id"])[-1]["stop_reason"] == "requires_approval"
    code, run = ended(compat, APPROVAL)
    assert code == 200 and run is not None and run["status"] == "completed"
    code, again = ended(compat, APPROVAL)  # the approval was given: nothing awaits one now
    assert again is not None and again["metadata"]["error"].startswith("Cannot process")


def test_an_approval_runs_once_the_last_run_asked_for_one_even_if_nobody_read_that_run(
    make_client: MakeClient,
) -> None:
    client = make_client(profile=COMPAT_PROFILE, clock="virtual")
    post_async(client, headers={"X-Letta-Mock-Scenario": "stop:requires_approval"})
    client.post("/_mock/clock/advance", json={"seconds": 60})  # it ends unread
    run_id = post_async(client, APPROVAL).get_json()["id"]
    client.post("/_mock/clock/advance", json={"seconds": 60})
    run = client.get(f"/v1/runs/{run_id}").get_json()
    assert (run["status"], run["metadata"].get("error")) == ("completed", None)


def test_a_zero_step_run_ignores_the_scenario_and_uses_nothing(compat: FlaskClient) -> None:
    for steps in (0, -1, "0", False):
        answer = post_async(
            compat, {"input": "hi", "max_steps": steps}, headers={"X-Letta-Mock-Scenario": "fail"}
        )
        run = poll_to_end(compat, answer.get_json()["id"])[-1]
        assert (run["status"], run["stop_reason"]) == ("completed", "end_turn"), steps
        usage = compat.get(f"/v1/runs/{run['id']}/usage").get_json()
        assert usage["total_tokens"] == 0
    failing = post_async(compat, {"messages": [], "max_steps": 0})
    assert poll_to_end(compat, failing.get_json()["id"])[-1]["status"] == "failed"


def test_a_cancel_overwritten_by_completion_keeps_the_cancel_time_and_one_callback(
    compat: FlaskClient,
) -> None:
    with Receiver() as receiver:
        run_id = post_async(compat, {"input": "hi", "callback_url": receiver.url}).get_json()["id"]
        compat.get(f"/v1/runs/{run_id}")
        compat.post(f"/v1/agents/{AGENT}/messages/cancel", json={"run_ids": [run_id]})
        cancelled = compat.get(f"/v1/runs/{run_id}").get_json()
        final = poll_to_end_after_cancel(compat, run_id)
        wait_for_callbacks(compat)
    assert (cancelled["status"], cancelled["stop_reason"]) == ("cancelled", "cancelled")
    assert (final["status"], final["stop_reason"]) == ("completed", "end_turn")
    assert final["completed_at"] == cancelled["completed_at"]
    assert [p["status"] for p in receiver.received] == ["cancelled"]
    messages = compat.get(f"/v1/runs/{run_id}/messages").get_json()
    assert [m["message_type"] for m in messages][-1] == "assistant_message"


def poll_to_end_after_cancel(client: FlaskClient, run_id: str) -> dict[str, Any]:
    for _ in range(10):
        run: dict[str, Any] = client.get(f"/v1/runs/{run_id}").get_json()
        if run["status"] != "cancelled":
            return run
    raise AssertionError("the cancelled run never ended as planned")


@pytest.mark.parametrize("scenario", ["tools", "never", "stop:max_steps"])
def test_a_cancel_sticks_for_runs_of_several_steps_or_none(
    compat: FlaskClient, scenario: str
) -> None:
    body = {"input": "hi", "max_steps": 3}
    answer = post_async(compat, body, headers={"X-Letta-Mock-Scenario": scenario})
    run_id = answer.get_json()["id"]
    compat.get(f"/v1/runs/{run_id}")
    compat.post(f"/v1/agents/{AGENT}/messages/cancel", json={"run_ids": [run_id]})
    seen = {compat.get(f"/v1/runs/{run_id}").get_json()["status"] for _ in range(8)}
    assert seen == {"cancelled"}


def test_cancel_answers_for_unknown_terminal_and_no_runs(compat: FlaskClient) -> None:
    _, run = ended(compat, {"input": "hi"})
    assert run is not None
    unknown = "run-00000000-0000-4000-8000-000000000000"
    answer = compat.post(
        f"/v1/agents/{AGENT}/messages/cancel", json={"run_ids": [unknown, run["id"]]}
    )
    assert answer.get_json() == {unknown: "failed", run["id"]: "cancelled"}
    assert compat.get(f"/v1/runs/{run['id']}").get_json() == run
    nothing = compat.post(f"/v1/agents/{AGENT}/messages/cancel")
    assert nothing.status_code == 409
    assert nothing.get_json() == {"detail": f"CONFLICT: No active runs to cancel for agent {AGENT}"}


def test_the_wall_clock_sweep_ends_an_overwritten_cancel_too(make_client: MakeClient) -> None:
    client = make_client(profile=COMPAT_PROFILE, clock="virtual")
    service = client.application.extensions["letta_mock"]
    run_id = post_async(client).get_json()["id"]
    service.advance_clock(0.1)  # into the (unseen) running phase
    client.post(f"/v1/agents/{AGENT}/messages/cancel", json={"run_ids": [run_id]})
    assert service.get_run(run_id)["status"] == "cancelled"
    assert len(service.store.due_runs(1e12)) == 1  # still to be moved along
    service.advance_clock(5)
    assert service.get_run(run_id)["status"] == "completed"
    assert service.store.due_runs(1e12) == []


# -- the callback ----------------------------------------------------------------------------


def test_the_callback_body_is_valid_against_its_schema_in_each_profile(
    make_client: MakeClient,
) -> None:
    documented = callback_body(make_client())
    assert validator("callback-payload", "documented").problems(documented) == []
    assert not naive(documented["completed_at"])
    real = callback_body(make_client(profile=COMPAT_PROFILE))
    assert validator("callback-payload", "server").problems(real) == []
    assert naive(real["completed_at"])
    assert list(real) == ["run_id", "status", "completed_at", "metadata"]
    assert list(real["metadata"]) == ["run_type", "lettuce", "result"]
    assert list(real["metadata"]["result"]["usage"]) == [
        "message_type",
        "completion_tokens",
        "prompt_tokens",
        "total_tokens",
        "step_count",
        "run_ids",
        "cached_input_tokens",
        "cache_write_tokens",
        "reasoning_tokens",
        "context_tokens",
    ]


def test_a_failed_runs_callback_is_valid_too(make_client: MakeClient) -> None:
    client = make_client(profile=COMPAT_PROFILE)
    with Receiver() as receiver:
        ended(client, {"messages": [], "callback_url": receiver.url})
        wait_for_callbacks(client)
    (payload,) = receiver.received
    assert validator("callback-payload", "server").problems(payload) == []
    assert payload["metadata"]["error"] == "list index out of range"
    assert payload["metadata"]["result"]["messages"] == []


def test_the_callback_sent_at_of_a_compat_run_is_naive(compat: FlaskClient) -> None:
    with Receiver() as receiver:
        _, run = ended(compat, {"input": "hi", "callback_url": receiver.url})
        wait_for_callbacks(compat)
    assert run is not None and receiver.received
    recorded = compat.get(f"/v1/runs/{run['id']}").get_json()
    assert recorded["callback_status_code"] == 200 and naive(recorded["callback_sent_at"])


# -- the SDK ---------------------------------------------------------------------------------


@pytest.fixture
def compat_server() -> Iterator[MockServer]:
    with MockServer(MockConfig(clock="per-poll", profile=COMPAT_PROFILE)) as server:
        yield server


@pytest.mark.sdk
def test_the_sdk_works_against_the_compat_profile(compat_server: MockServer) -> None:
    client = Letta(base_url=compat_server.base_url, api_key="k", max_retries=0)
    run = client.agents.messages.create_async(compat_server.agent_id, input="hello")
    seen = [str(run.status)]
    while seen[-1] not in TERMINAL_STATUSES:
        seen.append(str(client.runs.retrieve(run.id).status))
    assert seen == ["created", "created", "completed"]
    done = client.runs.retrieve(run.id)
    assert done.completed_at is not None and done.completed_at.tzinfo is None
    assert done.ttft_ns is None and done.total_duration_ns is None
    listed = [r for r in client.runs.list().items if r.id == run.id]
    assert listed and listed[0].total_duration_ns is None  # recorded a moment after the end
    assert client.runs.messages.list(run.id).items[-1].message_type == "assistant_message"

    not_int: Any = "x"
    with pytest.raises(UnprocessableEntityError) as refused:
        client.agents.messages.create_async(compat_server.agent_id, input="x", max_steps=not_int)
    assert isinstance(refused.value.body, dict) and isinstance(refused.value.body["detail"], str)

    failing = client.agents.messages.create_async(compat_server.agent_id, messages=[])
    while str(failing.status) not in TERMINAL_STATUSES:
        failing = client.runs.retrieve(failing.id)
    assert (failing.status, failing.stop_reason) == ("failed", "error")
    assert failing.metadata == {
        "run_type": "send_message_async",
        "lettuce": None,
        "error": "list index out of range",
    }

    pending = client.agents.messages.create_async(compat_server.agent_id, input="again")
    client.runs.retrieve(pending.id)
    assert client.agents.messages.cancel(compat_server.agent_id, run_ids=[pending.id]) == {
        pending.id: "cancelled"
    }
    after = [str(client.runs.retrieve(pending.id).status) for _ in range(3)]
    assert after[0] == "cancelled" and after[-1] == "completed"


def test_docs_mock_md_has_one_table_row_per_quirk() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "mock.md").read_text("utf-8")
    table = doc.split("<!-- quirks -->", 1)[1].split("\n\n", 1)[0]
    rows = [line.split("|")[1].strip().strip("`") for line in table.splitlines()[3:]]
    assert rows == [q.name for q in QUIRKS]
    for line, quirk in zip(table.splitlines()[3:], QUIRKS, strict=True):
        where = line.split("|")[2].strip()
        assert where == ("both" if quirk.in_strict else "0.16.8"), quirk.name
