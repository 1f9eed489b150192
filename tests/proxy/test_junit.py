"""The proxy's JUnit XML says what its JSON report says: a request the application got wrong
is a failing test case of the client's (never of a server check), naming the rule its body
breaks; the divergences and the notes are the suite's output, never failures."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import requests
from letta_client import Letta

from letta_contract_kit.mockserver import MockServer
from letta_contract_kit.schemas.contract import TERMINAL_STATUSES

from .conftest import AUTH, TOKEN, proxied

pytestmark = pytest.mark.sdk
# A text part with a union tag no reading knows: invalid under both readings.
WRONG_TAG = {"input": [{"type": "bogus", "text": "What is the capital of Portugal?"}]}


def sdk_flow(url: str, agent_id: str) -> str:
    """Send, poll to the end (the mock's clock moves per poll), list: the run's id."""
    client = Letta(base_url=url, api_key=TOKEN, max_retries=0)
    run = client.agents.messages.create_async(agent_id, input="hello")
    for _ in range(20):
        if str(client.runs.retrieve(run.id).status) in TERMINAL_STATUSES:
            break
    else:
        raise AssertionError(f"run {run.id} did not end in 20 polls")
    assert client.runs.messages.list(run.id).items
    assert run.id in [r.id for r in client.runs.list(agent_id=agent_id).items]
    return run.id


@pytest.fixture
def reports(letta_mock: MockServer, tmp_path: Path) -> tuple[dict[str, Any], ET.Element]:
    """The JSON report and the JUnit XML of a proxy that saw one valid flow, one body with a
    wrong union tag, and a run it never saw end."""
    report, junit = tmp_path / "proxy.json", tmp_path / "proxy.xml"
    with proxied(letta_mock.base_url, report=str(report), junit_xml=str(junit)) as proxy:
        sdk_flow(proxy.url, letta_mock.agent_id)
        url = f"{proxy.url}/v1/agents/{letta_mock.agent_id}/messages/async"
        assert requests.post(url, json=WRONG_TAG, headers=AUTH).status_code == 422
        requests.post(url, json={"input": "never polled"}, headers=AUTH).raise_for_status()
    return json.loads(report.read_text("utf-8")), ET.parse(junit).getroot()


def failures(case: ET.Element) -> list[ET.Element]:
    return case.findall("failure")


def test_a_client_finding_is_a_failing_test_case_of_the_clients(
    reports: tuple[dict[str, Any], ET.Element],
) -> None:
    report, suite = reports
    [finding] = [f for f in report["findings"] if f["kind"] == "client"]
    [case] = [c for c in suite.iter("testcase") if c.get("classname") == "letta_contract.client"]
    assert case.get("name") == f"client: {finding['case']}"
    [failure] = failures(case)
    assert failure.get("type") == "client"
    message = failure.get("message", "")
    assert message.startswith("the client's request: the body is invalid under both readings")
    assert "input/0/type" in message and "[union_tag_invalid]" in message  # the rule broken
    text = failure.text or ""
    assert text.startswith("the client's mistake, not the server's")
    assert finding["message"] in text and f"reproduce: {finding['curl']}" in text


def test_no_server_check_fails_for_the_clients_mistake(
    reports: tuple[dict[str, Any], ET.Element],
) -> None:
    report, suite = reports
    assert report["violations"] == [] and report["exit_code"] == 0
    checks = [c for c in suite.iter("testcase") if c.get("classname") == "letta_contract"]
    assert [c.get("name") for c in checks] == report["checks"]
    assert [c.get("name") for c in checks if failures(c)] == []
    assert suite.get("tests") == str(len(checks) + 1) and suite.get("failures") == "1"
    skipped = {c.get("name") for c in checks if c.find("skipped") is not None}
    assert skipped == set(report["skipped"])


def test_divergences_and_notes_are_the_suites_output_as_in_the_json_report(
    reports: tuple[dict[str, Any], ET.Element],
) -> None:
    report, suite = reports
    output = (suite.findtext("system-out") or "").splitlines()
    divergences = [line for line in output if line.startswith("divergence: ")]
    assert len(divergences) == len(report["divergences"]) >= 1
    for line, divergence in zip(divergences, report["divergences"], strict=True):
        assert (divergence["message"] or divergence["verdict"]) in line
    notes = [line.removeprefix("note: ") for line in output if line.startswith("note: ")]
    assert notes == report["notices"]
    assert any("not seen ended" in note for note in notes)
