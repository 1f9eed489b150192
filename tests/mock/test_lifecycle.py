"""Runs move created -> running -> terminal, forward only, driven by a replaceable clock."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from letta_contract_kit.mockserver.clock import VirtualClock
from letta_contract_kit.mockserver.config import Timings
from letta_contract_kit.mockserver.lifecycle import RunLifecycle
from letta_contract_kit.mockserver.records import RunRecord
from letta_contract_kit.mockserver.scenarios import parse_scenario
from letta_contract_kit.schemas import validator
from letta_contract_kit.schemas.contract import STATUS_RANK, TERMINAL_STATUSES

from .conftest import AGENT, poll_to_end, post_async


def _record(lifecycle: RunLifecycle, scenario: str, now: float) -> RunRecord:
    run = {
        "id": "run-4b3f1e0a-9c2d-4e5f-8a6b-7c8d9e0f1a2b",
        "status": "created",
        "agent_id": AGENT,
        "metadata": {},
        "request_config": {},
        "stop_reason": None,
        "completed_at": None,
        "ttft_ns": None,
        "total_duration_ns": None,
    }
    return lifecycle.new_record(run, {"input": "hi"}, parse_scenario(scenario), now)


def test_virtual_clock_stands_still_until_advanced() -> None:
    clock = VirtualClock(start=1000.0)
    assert clock.now() == clock.now() == 1000.0
    assert clock.advance(2.5) == 1002.5
    with pytest.raises(ValueError):
        clock.advance(-1)


def test_a_run_ends_exactly_when_its_phases_have_elapsed() -> None:
    lifecycle = RunLifecycle(Timings(queued=1.0, running=2.0, slow_running=10.0))
    record = _record(lifecycle, "succeed", now=100.0)
    assert not lifecycle.advance(record, 100.99)
    assert record.status == "created"
    assert not lifecycle.advance(record, 101.0)
    assert record.status == "running"
    assert not lifecycle.advance(record, 102.999)
    assert lifecycle.advance(record, 103.0)
    assert record.status == "completed"
    assert record.run["total_duration_ns"] == 3_000_000_000
    assert 1_000_000_000 <= record.run["ttft_ns"] <= 3_000_000_000


def test_a_late_look_stamps_the_scheduled_end_not_the_time_of_the_look() -> None:
    lifecycle = RunLifecycle(Timings(queued=0.5, running=0.5, slow_running=1))
    record = _record(lifecycle, "succeed", now=0.0)
    lifecycle.advance(record, 3600.0)
    assert record.run["completed_at"] == "1970-01-01T00:00:01.000000Z"


def test_a_terminal_run_never_changes_again() -> None:
    lifecycle = RunLifecycle(Timings())
    record = _record(lifecycle, "fail", now=0.0)
    lifecycle.advance(record, 10.0)
    frozen = dict(record.run)
    assert not lifecycle.advance(record, 1e6)
    assert not lifecycle.cancel(record, 1e6)
    assert record.run == frozen


def test_never_scenario_stays_running_for_ever_until_cancelled() -> None:
    lifecycle = RunLifecycle(Timings())
    record = _record(lifecycle, "never", now=0.0)
    lifecycle.advance(record, 1e9)
    assert record.status == "running"
    assert lifecycle.cancel(record, 1e9 + 1)
    assert (record.status, record.run["stop_reason"]) == ("cancelled", "cancelled")


def test_per_poll_moves_one_phase_per_poll_and_ignores_time() -> None:
    lifecycle = RunLifecycle(Timings.per_poll(), per_poll=True)
    record = _record(lifecycle, "succeed", now=0.0)
    assert not lifecycle.advance(record, 1e9)  # not a poll: nothing moves
    assert record.status == "created"
    lifecycle.advance(record, 0.0, polled=True)
    assert record.status == "running"
    assert lifecycle.advance(record, 0.0, polled=True)
    assert record.status == "completed"


def test_slow_scenario_takes_as_many_polls_as_it_says() -> None:
    lifecycle = RunLifecycle(Timings.per_poll(), per_poll=True)
    record = _record(lifecycle, "slow:4", now=0.0)
    statuses = []
    while not record.terminal:
        lifecycle.advance(record, 0.0, polled=True)
        statuses.append(record.status)
    assert statuses == ["running", "running", "running", "running", "completed"]


def test_end_fields_are_null_before_the_end_and_set_together_at_it(
    make_client: Callable[..., FlaskClient],
) -> None:
    client = make_client(clock="per-poll")
    run_id = post_async(client).get_json()["id"]
    seen = poll_to_end(client, run_id)
    for run in seen[:-1]:
        assert run["completed_at"] is None and run["stop_reason"] is None
        assert run["ttft_ns"] is None and run["total_duration_ns"] is None
    last = seen[-1]
    assert None not in (last["completed_at"], last["stop_reason"], last["total_duration_ns"])


def test_status_never_moves_backwards_under_any_scenario(
    make_client: Callable[..., FlaskClient],
) -> None:
    client = make_client(clock="per-poll")
    for scenario in ("succeed", "tools", "fail", "stop:max_steps", "slow:3"):
        run_id = post_async(client, headers={"X-Letta-Mock-Scenario": scenario}).get_json()["id"]
        ranks = [STATUS_RANK[r["status"]] for r in poll_to_end(client, run_id)]
        assert ranks == sorted(ranks), scenario
        assert [r["status"] for r in poll_to_end(client, run_id)][-1] in TERMINAL_STATUSES


def test_virtual_clock_moves_runs_only_when_advanced_through_the_admin_api(
    make_client: Callable[..., FlaskClient],
) -> None:
    client = make_client(clock="virtual", timings=Timings(queued=1, running=2, slow_running=9))
    run_id = post_async(client).get_json()["id"]
    for _ in range(5):
        assert client.get(f"/v1/runs/{run_id}").get_json()["status"] == "created"
    assert client.post("/_mock/clock/advance", json={"seconds": 1}).status_code == 200
    assert client.get(f"/v1/runs/{run_id}").get_json()["status"] == "running"
    client.post("/_mock/clock/advance", json={"seconds": 2})
    done = client.get(f"/v1/runs/{run_id}").get_json()
    assert done["status"] == "completed"
    assert done["total_duration_ns"] == 3_000_000_000


# -- runs nobody reads: the sweep leaves them as stored, and every read brings them up to date


def test_a_run_nobody_read_has_ended_by_its_plan_when_it_is_first_read(
    make_client: Callable[..., FlaskClient],
) -> None:
    client = make_client(clock="virtual", timings=Timings(queued=1, running=2, slow_running=9))
    run_ids = [post_async(client).get_json()["id"] for _ in range(3)]
    client.post("/_mock/clock/advance", json={"seconds": 10})
    listed = client.get("/v1/runs/", query_string={"statuses": "completed"}).get_json()
    assert sorted(r["id"] for r in listed) == sorted(run_ids)
    for run_id in run_ids:
        run = client.get(f"/v1/runs/{run_id}").get_json()
        assert (run["status"], run["total_duration_ns"]) == ("completed", 3_000_000_000)


def test_runs_nobody_read_make_room_once_their_plan_has_ended_them(
    make_client: Callable[..., FlaskClient],
) -> None:
    client = make_client(clock="virtual", max_runs=3)
    first = [post_async(client).get_json()["id"] for _ in range(3)]
    full = post_async(client)
    assert full.status_code == 503 and "max_runs" in full.get_json()["detail"]  # none ended
    client.post("/_mock/clock/advance", json={"seconds": 60})
    assert all(post_async(client).status_code == 200 for _ in range(3))
    assert [client.get(f"/v1/runs/{run_id}").status_code for run_id in first] == [404] * 3


def test_advancing_a_clock_that_is_not_virtual_is_refused_with_a_reason(
    client: FlaskClient,
) -> None:
    answer = client.post("/_mock/clock/advance", json={"seconds": 1})
    assert answer.status_code == 409
    assert "virtual" in answer.get_json()["detail"]


@pytest.mark.parametrize("bad", [{"seconds": -1}, {"seconds": "2"}, {}, {"seconds": True}])
def test_clock_advance_rejects_a_bad_amount(
    make_client: Callable[..., FlaskClient], bad: dict[str, Any]
) -> None:
    client = make_client(clock="virtual")
    answer = client.post("/_mock/clock/advance", json=bad)
    assert answer.status_code == 422
    assert answer.get_json()["detail"][0]["loc"] == ["body", "seconds"]


def test_wall_clock_runs_end_by_themselves_with_short_timings(
    make_server: Callable[..., Any],
) -> None:
    import requests

    mock = make_server(clock="wall", timings=Timings(queued=0.0, running=0.0, slow_running=0))
    run_id = requests.post(
        f"{mock.base_url}/v1/agents/{mock.agent_id}/messages/async", json={"input": "x"}, timeout=5
    ).json()["id"]
    run = requests.get(f"{mock.base_url}/v1/runs/{run_id}", timeout=5).json()
    assert run["status"] == "completed"
    assert validator("run", "server").problems(run) == []
