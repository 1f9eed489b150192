"""The usage example of docs/mock.md, run as a test (docs/mock.md quotes this file verbatim)."""

from letta_client import Letta

from letta_contract_kit.mockserver import MockConfig, MockServer


def test_send_poll_and_read_the_answer() -> None:
    with MockServer(MockConfig(clock="per-poll")) as mock:
        client = Letta(base_url=mock.base_url, api_key="any")
        run = client.agents.messages.create_async(mock.agent_id, input="What is 2 + 2?")
        while run.status not in ("completed", "failed", "cancelled"):
            run = client.runs.retrieve(run.id)  # each poll moves the run one phase
        assert run.stop_reason == "end_turn"
        reply = client.runs.messages.list(run.id).items[-1]
        assert reply.message_type == "assistant_message"

        mock.queue("fail:llm_api_error")  # the next run fails
        failed = client.agents.messages.create_async(mock.agent_id, input="again")
        while failed.status not in ("completed", "failed", "cancelled"):
            failed = client.runs.retrieve(failed.id)
        assert (failed.status, failed.stop_reason) == ("failed", "llm_api_error")
