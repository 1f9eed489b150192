"""The proxy in front of the real Letta 0.16.8: what passes through is judged as the suite
judges it.

The official SDK's flow (find or create an agent, send async, poll the run to its end, list
its messages and the agent's runs, cancel a run still going) and two bodies an application
gets wrong or leaves short go through ``letta-contract proxy`` to the real server. The
proxy's report then
holds a client finding for the wrong body; as violations, the real server's true departures
(the ones the suite finds, ``test_suite_verdicts``) that this traffic shows, each with its
documentation source, and nothing else; what only the real server does is at most a
divergence. Its JUnit XML says the same.
"""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from letta_client import Letta
from real_letta_server import RealLetta
from test_suite_verdicts import ALWAYS, SOMETIMES

from letta_contract_kit.contract_tests.checks.selection import all_checks
from letta_contract_kit.contract_tests.events import SuiteResult
from letta_contract_kit.contract_tests.proxy import ProxyConfig, ProxyServer
from letta_contract_kit.schemas.contract import TERMINAL_STATUSES

pytestmark = pytest.mark.real_letta

AGENT_NAME = "letta-contract-proxy-agent"
# Polls of one run, back to back: it ends 1-2 s after the POST (findings §2).
POLLS = 3000
# A content part whose union tag no reading knows: invalid under both readings.
WRONG_TAG = {"input": [{"type": "bogus", "text": "What is the capital of Portugal?"}]}
# A text part without its optional `type`: the documentation (001) gives it a default, so
# the client relies on a stated fact; the real server answers 422 `union_tag_not_found`
# (findings §5), which breaks `optional-tag-accepted`, as the suite finds.
UNTYPED_PART = {"input": [{"text": "What is the capital of Portugal?"}]}

# The departures the suite always finds for this server that this traffic cannot show as
# violations through the proxy, and why. The rest of ALWAYS must be found; nothing outside
# ALWAYS | SOMETIMES may be.
NOT_SHOWN_HERE = {
    # The SDK's flow pages no listing, and the proxy does not judge cursor sides (they
    # need every run of the agent; docs/proxy.md § Verdicts).
    "listing-cursor": "no cursor is sent, and the proxy does not judge cursor sides",
}
SHOWN = ALWAYS - NOT_SHOWN_HERE.keys()


@dataclass(frozen=True)
class Traffic:
    """What the application saw through the proxy, and what the proxy wrote."""

    run_id: str
    statuses: list[str]
    message_types: list[str]
    listed: list[str]
    cancelled_id: str
    cancel_answer: dict[str, Any]
    cancelled_status: str
    wrong_tag: requests.Response
    untyped_part: requests.Response
    result: SuiteResult
    report: dict[str, Any]
    junit: ET.Element


def agent_for_the_proxy(client: Letta, template_id: str) -> str:
    """The agent this test talks to: found by name, or made once like the configured one."""
    found = client.agents.list(name=AGENT_NAME).items
    if found:
        return found[0].id
    template = client.agents.retrieve(template_id)
    return client.agents.create(
        name=AGENT_NAME,
        model=template.llm_config.handle,
        embedding=template.embedding_config.handle,
    ).id


def until_ended(client: Letta, run_id: str) -> list[str]:
    seen: list[str] = []
    for _ in range(POLLS):
        seen.append(str(client.runs.retrieve(run_id).status))
        if seen[-1] in TERMINAL_STATUSES:
            return seen
    raise AssertionError(f"run {run_id} not ended after {POLLS} polls: {seen[-5:]}")


@pytest.fixture(scope="module")
def traffic(real_letta: RealLetta, tmp_path_factory: pytest.TempPathFactory) -> Traffic:
    where = tmp_path_factory.mktemp("proxy")
    report, junit = where / "report.json", where / "junit.xml"
    config = ProxyConfig(
        upstream=real_letta.base_url, port=0, report=str(report), junit_xml=str(junit)
    )
    with ProxyServer(config, stream=io.StringIO()) as proxy:
        client = Letta(base_url=proxy.base_url, api_key="any", max_retries=0, timeout=60)
        agent_id = agent_for_the_proxy(client, real_letta.agent_id)
        run = client.agents.messages.create_async(agent_id, input="Through the proxy: 2 + 2?")
        statuses = [str(run.status), *until_ended(client, run.id)]
        messages = client.runs.messages.list(run.id).items
        listed = client.runs.list(agent_id=agent_id, order="desc", limit=10).items
        # a run the fake LLM keeps going for a while, so that the cancel finds it active
        slow = client.agents.messages.create_async(agent_id, input="[[slow:6]] a long job")
        answer = client.agents.messages.cancel(agent_id, run_ids=[slow.id])
        after_cancel = str(client.runs.retrieve(slow.id).status)
        url = f"{proxy.base_url}/v1/agents/{agent_id}/messages/async"
        wrong_tag = requests.post(url, json=WRONG_TAG, timeout=30)
        untyped_part = requests.post(url, json=UNTYPED_PART, timeout=30)
    assert proxy.result is not None
    return Traffic(
        run.id,
        statuses,
        [str(m.message_type) for m in messages],
        [r.id for r in listed],
        slow.id,
        dict(answer),
        after_cancel,
        wrong_tag,
        untyped_part,
        proxy.result,
        json.loads(report.read_text("utf-8")),
        ET.parse(junit).getroot(),
    )


def client_findings(traffic: Traffic) -> dict[str, str]:
    """The client findings, by the body of the request they are about."""
    found = {}
    for finding in traffic.result.findings:
        if finding.kind == "client":
            assert finding.curl is not None
            body = finding.curl.split("--data-raw ", 1)[1].strip("'")
            found[body] = finding.message
    return found


def test_the_sdk_flow_and_the_wrong_bodies_pass_through_unchanged(traffic: Traffic) -> None:
    assert traffic.statuses[0] == "created" and traffic.statuses[-1] == "completed"
    assert "assistant_message" in traffic.message_types
    assert traffic.run_id in traffic.listed
    assert traffic.cancel_answer == {traffic.cancelled_id: "cancelled"}
    assert traffic.cancelled_status == "cancelled"
    # the real server's 422, as it sends it: `detail` a string (findings §5)
    for refused in (traffic.wrong_tag, traffic.untyped_part):
        assert refused.status_code == 422 and isinstance(refused.json()["detail"], str)
    assert "union_tag_invalid" in traffic.wrong_tag.json()["detail"]
    assert "union_tag_not_found" in traffic.untyped_part.json()["detail"]


def test_the_wrong_body_is_the_one_client_finding(traffic: Traffic) -> None:
    found = client_findings(traffic)
    assert found.keys() == {json.dumps(WRONG_TAG)}  # not the SDK's, not the documented omission
    wrong_tag = found[json.dumps(WRONG_TAG)]
    assert wrong_tag.startswith("the body is invalid under both readings: input/0/type")
    assert wrong_tag.endswith("[union_tag_invalid]")
    assert [f["kind"] for f in traffic.report["findings"]] == ["client"]


def test_refusing_the_documented_omission_breaks_optional_tag_accepted(traffic: Traffic) -> None:
    (refused,) = [v for v in traffic.result.violations if v.rule_id == "optional-tag-accepted"]
    assert refused.source.startswith("documentation: documentation version 001"), refused.source
    assert refused.response is not None and refused.response["status"] == 422


def test_the_violations_are_the_true_departures_with_their_documentation_source(
    traffic: Traffic,
) -> None:
    assert NOT_SHOWN_HERE.keys() <= ALWAYS  # what is left out is still the suite's finding
    violations = traffic.result.violations
    found = {v.rule_id for v in violations}
    assert found >= SHOWN, found
    assert found <= ALWAYS | SOMETIMES, [(v.rule_id, v.message) for v in violations]
    for violation in violations:
        assert violation.source.startswith(("documentation:", "both readings:")), violation
        assert violation.check not in traffic.result.skipped
    assert traffic.report["exit_code"] == 1
    assert {v["rule_id"] for v in traffic.report["violations"]} == found


def test_what_only_the_real_server_does_is_at_most_a_divergence(traffic: Traffic) -> None:
    server_only = {r.id for check in all_checks().values() for r in check.rules if not r.binding}
    for divergence in traffic.result.divergences:
        if divergence.rule_id:
            assert divergence.rule_id in server_only, divergence
            assert divergence.source.startswith("real server:"), divergence
        else:  # a body the readings judge differently: this traffic sends none
            raise AssertionError(f"no divergent body was sent: {divergence}")


def test_the_junit_report_fails_the_violated_checks_and_the_clients_requests(
    traffic: Traffic,
) -> None:
    cases = list(traffic.junit.iter("testcase"))
    failing = {
        (c.get("classname"), f.get("type") == "client") for c in cases for f in c.findall("failure")
    }
    assert failing == {("letta_contract", False), ("letta_contract.client", True)}
    failed_checks = {
        c.get("name")
        for c in cases
        if c.get("classname") == "letta_contract" and c.find("failure") is not None
    }
    assert failed_checks == {v.check for v in traffic.result.violations}
    clients = [c for c in cases if c.get("classname") == "letta_contract.client"]
    assert len(clients) == len(client_findings(traffic))
