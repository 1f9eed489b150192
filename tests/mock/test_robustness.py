"""No request body, valid or not, makes the mock answer 500 or leave a half-made run."""

from __future__ import annotations

import logging
from typing import Any

from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from letta_contract_kit.mockserver import MockConfig, create_app
from letta_contract_kit.mockserver.waitress_json import OnceInAWhile
from letta_contract_kit.schemas import validator
from letta_contract_kit.schemas.contract import MESSAGE_TYPE, TERMINAL_STATUSES

from .conftest import AGENT

APP = create_app(MockConfig(agents=[AGENT], clock="per-poll"))
URL = f"/v1/agents/{AGENT}/messages/async"
SCENARIOS = st.sampled_from(
    ["succeed", "tools", "fail", "stop:max_steps", "stop:requires_approval", "slow:2"]
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
TEXT = st.text(max_size=20)
CONTENT = TEXT | st.lists(
    st.fixed_dictionaries({"type": st.just("text"), "text": TEXT}), max_size=3
)
MESSAGE = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "system", "assistant"]), "content": CONTENT},
    optional={"name": TEXT, "otid": TEXT, "type": st.just("message")},
)
APPROVAL = st.fixed_dictionaries({"approve": st.booleans(), "approval_request_id": TEXT})
TOOL_RETURN = st.fixed_dictionaries(
    {
        "type": st.just("tool_return"),
        "tool_returns": st.lists(
            st.fixed_dictionaries(
                {
                    "tool_call_id": TEXT,
                    "status": st.sampled_from(["success", "error"]),
                    "tool_return": TEXT,
                }
            ),
            max_size=2,
        ),
    }
)
OPTIONS = {
    "max_steps": st.integers(-3, 10),
    "include_return_message_types": st.none() | st.lists(st.sampled_from(list(MESSAGE_TYPE))),
    "use_assistant_message": st.booleans(),
    "enable_thinking": TEXT,
    "override_model": st.none() | TEXT,
    "unknown_field": JSON,
}
BODIES = st.fixed_dictionaries({"input": CONTENT}, optional=OPTIONS) | st.fixed_dictionaries(
    {"messages": st.lists(MESSAGE | APPROVAL | TOOL_RETURN, max_size=3)}, optional=OPTIONS
)
QUICK = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))


def client() -> FlaskClient:
    return APP.test_client()


@QUICK
@given(body=BODIES, scenario=SCENARIOS)
def test_any_body_the_server_accepts_runs_to_an_end_with_valid_messages(
    body: dict[str, Any], scenario: str
) -> None:
    assert validator("letta-async-request", "server").problems(body) == []
    answer = client().post(URL, json=body, headers={"X-Letta-Mock-Scenario": scenario})
    assert answer.status_code in (200, 422), answer.get_json()
    if answer.status_code == 422:  # only the strict profile's extra rules may refuse it
        assert {i["type"] for i in answer.get_json()["detail"]} <= {"too_short", "empty_content"}
        return
    run_id = answer.get_json()["id"]
    for _ in range(10):
        run = client().get(f"/v1/runs/{run_id}").get_json()
        if run["status"] in TERMINAL_STATUSES:
            break
    assert run["status"] in TERMINAL_STATUSES
    assert validator("run", "server").problems(run) == []
    for message in client().get(f"/v1/runs/{run_id}/messages").get_json():
        assert validator("letta-message", "server").problems(message) == [], message


@QUICK
@given(body=JSON)
def test_any_json_at_all_gets_200_or_a_422_with_located_problems(body: Any) -> None:
    answer = client().post(URL, json=body)
    assert answer.status_code in (200, 422)
    if answer.status_code == 422:
        assert all(item["loc"][0] == "body" for item in answer.get_json()["detail"])


@QUICK
@given(data=st.binary(max_size=64))
def test_any_bytes_get_a_json_answer_below_500(data: bytes) -> None:
    answer = client().post(URL, data=data, content_type="application/json")
    assert 200 <= answer.status_code < 500
    assert answer.is_json


def _queue_warning() -> logging.LogRecord:
    return logging.LogRecord(
        "waitress.queue", logging.WARNING, "", 0, "Task queue depth is %d", (3,), None
    )


def test_waitress_queue_depth_warnings_are_said_once_in_a_while_not_per_request() -> None:
    seldom = OnceInAWhile(3600)
    shown = [seldom.filter(_queue_warning()) for _ in range(5)]
    assert shown == [True, False, False, False, False] and seldom.hidden == 4
    every_time = OnceInAWhile(0)
    assert all(every_time.filter(_queue_warning()) for _ in range(3))
    said = _queue_warning()
    OnceInAWhile(3600).filter(said)
    assert said.getMessage() == "Task queue depth is 3 (such warnings: at most one every 3600 s)"
    assert any(isinstance(f, OnceInAWhile) for f in logging.getLogger("waitress.queue").filters)
