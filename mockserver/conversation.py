"""The messages, steps and token usage a run produces, derived from what was sent.

Every message is shaped from its schema's property list, so it carries exactly the keys the
schema names (absent ones as null).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from dataclasses import dataclass, field
from typing import Any

from letta_contract_kit.mockserver.clock import rfc3339_seconds
from letta_contract_kit.mockserver.scenarios import Scenario
from letta_contract_kit.schemas.contract import (
    RUN_STATUS,
    STOP_REASON,
    fields,
    tag_of,
    union_members,
)
from letta_contract_kit.schemas.loader import raw

MESSAGE_SCHEMAS: dict[str, str] = {
    tag_of(name, "message_type"): name for name in union_members("letta-message")
}


def _enum(schema_name: str, prop: str) -> tuple[Any, ...]:
    return tuple(raw(schema_name)["properties"][prop]["enum"])


def _pick(values: tuple[Any, ...], wanted: str) -> str:
    if wanted not in values:
        raise LookupError(f"{wanted!r} is no longer allowed by the schemas ({values})")
    return wanted


STEP_STATUS = _enum("step", "status")
TOOL_STATUS = _enum("tool-return-message", "status")
REASONING_SOURCE = _enum("reasoning-message", "source")
STEP_SUCCESS = _pick(STEP_STATUS, "success")
STEP_FAILED = _pick(STEP_STATUS, "failed")
STEP_CANCELLED = _pick(STEP_STATUS, "cancelled")
TOOL_SUCCESS = _pick(TOOL_STATUS, "success")
NON_REASONER = _pick(REASONING_SOURCE, "non_reasoner_model")
MODEL = "mock/letta-mock-model"
# The one organization of a self-hosted Letta server, which owns its steps.
ORGANIZATION_ID = "org-00000000-0000-4000-8000-000000000000"
PROMPT_TOKEN_DETAILS = ("cached_tokens", "cache_read_tokens", "cache_creation_tokens")
# What a failed step names as its error (an LLM provider's server error, as the mock's
# failing scenarios stand for).
STEP_ERROR_TYPE = "LLMServerError"
FAILED_STEP_TRACEBACK = (
    "Traceback (most recent call last):\n  letta-mock: the run's scenario failed this step\n"
    f"{STEP_ERROR_TYPE}: the mock's LLM call failed\n"
)
TOOL_RETURN_TYPE = "tool"
CONTEXT_WINDOW = 128_000


# The bits a version-4 UUID (RFC 9562) sets: its version and its variant.
_UUID4_BITS = (0x4000 << 64) | (0x8000 << 48)
_UUID4_KEPT = ~(0xF000 << 64) & ~(0xC000 << 48)


def uuid4_text(sixteen: bytes) -> str:
    """The text of the version-4 UUID made from 16 bytes, as ``uuid.UUID(bytes=...,
    version=4)`` writes it, without building the object."""
    text = ((int.from_bytes(sixteen, "big") & _UUID4_KEPT) | _UUID4_BITS).to_bytes(16, "big").hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def new_id(prefix: str) -> str:
    """A fresh id: ``prefix-`` and a random version-4 UUID."""
    return f"{prefix}-{uuid4_text(os.urandom(16))}"


class RunIds:
    """The ids of what one run leaves behind, drawn in order from the run's own id.

    The same run always yields the same messages, steps and tool calls, so they are derived
    again whenever they are asked for instead of being stored with the run. Each id is a
    well-formed version-4 UUID taken from a hash of the run id and a counter.
    """

    def __init__(self, run_id: str) -> None:
        self._seed = run_id.encode()
        self._counter = itertools.count()

    def uuid4(self) -> str:
        digest = hashlib.blake2b(
            self._seed + b"/" + str(next(self._counter)).encode(), digest_size=16
        ).digest()
        return uuid4_text(digest)

    def new(self, prefix: str) -> str:
        return f"{prefix}-{self.uuid4()}"


def shaped(schema_name: str, values: dict[str, Any]) -> dict[str, Any]:
    """An object with every property of ``schema_name``, in its order; missing ones null."""
    unknown = set(values) - set(fields(schema_name))
    if unknown:
        raise KeyError(f"{schema_name} has no properties {sorted(unknown)}")
    return {name: values.get(name) for name in fields(schema_name)}


def input_messages(request: dict[str, Any]) -> list[dict[str, Any]]:
    """The request's messages; ``input`` stands for one user message."""
    if request.get("input") is not None:
        return [{"role": "user", "content": request["input"]}]
    return list(request.get("messages") or [])


def item_kind(item: dict[str, Any]) -> str:
    """The member of the messages union an item is, read as the server does.

    An item without ``type`` is an approval when it carries ``approve`` or
    ``approval_request_id``, else a plain message.
    """
    kind = item.get("type")
    if isinstance(kind, str):
        return kind
    if "approve" in item or "approval_request_id" in item:
        return tag_of("approval-create")
    return tag_of("message-create")


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [str(p.get("text", "")) for p in content if isinstance(p, dict)]
        return " ".join(part for part in parts if part)
    return ""


def user_text(request: dict[str, Any]) -> str:
    texts = [
        _text_of(m.get("content"))
        for m in input_messages(request)
        if m.get("role") == "user" and m.get("content") is not None
    ]
    return " ".join(t for t in texts if t).strip()


def _user_content(content: Any) -> Any:
    """What a user_message may carry back: the string, or its text and image parts."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    keep = {tag_of(n) for n in ("text-content", "image-content")}
    parts = [p for p in content if isinstance(p, dict) and p.get("type") in keep]
    return parts if parts else _text_of(content)


def _words(text: str) -> int:
    return len(text.split())


@dataclass
class StepDraft:
    messages: list[dict[str, Any]] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    stop_reason: str | None = None
    status: str = STEP_SUCCESS


@dataclass
class Conversation:
    """Builds the messages of one run, all dated ``moment`` and linked to ``run_id``."""

    run_id: str
    agent_id: str
    request: dict[str, Any]
    moment: float
    ids: RunIds
    steps: list[StepDraft] = field(default_factory=list)

    def _message(self, message_type: str, step_id: str | None, **values: Any) -> dict[str, Any]:
        return shaped(
            MESSAGE_SCHEMAS[message_type],
            {
                "id": self.ids.new("message"),
                "date": rfc3339_seconds(self.moment),
                "message_type": message_type,
                "otid": self.ids.uuid4(),
                "step_id": step_id,
                "run_id": self.run_id,
                **values,
            },
        )

    def received(self, step_id: str) -> list[dict[str, Any]]:
        """The request's own messages, as the run stores them."""
        out: list[dict[str, Any]] = []
        for item in input_messages(self.request):
            kind = item_kind(item)
            if kind == tag_of("approval-create"):
                out.append(
                    self._message(
                        "approval_response_message",
                        step_id,
                        approvals=item.get("approvals"),
                        approve=item.get("approve"),
                        approval_request_id=item.get("approval_request_id"),
                        reason=item.get("reason"),
                    )
                )
            elif kind == tag_of("tool-return-create"):
                for ret in item.get("tool_returns") or []:
                    out.append(self.tool_return(step_id, ret))
            else:
                role = item.get("role")
                message_type = {"system": "system_message", "assistant": "assistant_message"}.get(
                    str(role), "user_message"
                )
                content = item.get("content")
                body = (
                    _user_content(content)
                    if message_type == "user_message"
                    else (content if isinstance(content, str) else _text_of(content))
                )
                out.append(
                    self._message(
                        message_type,
                        step_id,
                        content=body,
                        name=item.get("name"),
                        otid=item.get("otid") or self.ids.uuid4(),
                        sender_id=item.get("sender_id"),
                    )
                )
        return out

    def tool_return(
        self, step_id: str, ret: dict[str, Any], name: str | None = None
    ) -> dict[str, Any]:
        """A tool return message; ``name``: the tool's, when the mock called it."""
        value = ret.get("tool_return")
        return self._message(
            "tool_return_message",
            step_id,
            name=name,
            tool_return=value if isinstance(value, str) else _text_of(value),
            status=ret.get("status", TOOL_SUCCESS),
            tool_call_id=ret.get("tool_call_id", ""),
            stdout=ret.get("stdout"),
            stderr=ret.get("stderr"),
            tool_returns=[
                shaped(
                    "tool-return",
                    {
                        "type": ret.get("type", TOOL_RETURN_TYPE),
                        "tool_return": value,
                        "status": ret.get("status", TOOL_SUCCESS),
                        "tool_call_id": ret.get("tool_call_id", ""),
                        "stdout": ret.get("stdout"),
                        "stderr": ret.get("stderr"),
                    },
                )
            ],
        )

    def reasoning(self, step_id: str, text: str) -> dict[str, Any]:
        return self._message("reasoning_message", step_id, reasoning=text, source=NON_REASONER)

    def tool_call(
        self, step_id: str, message_type: str, name: str, args: dict[str, Any]
    ) -> dict[str, Any]:
        call = {"name": name, "arguments": json.dumps(args), "tool_call_id": self.ids.new("call")}
        return self._message(message_type, step_id, tool_call=call, tool_calls=[call])

    def search(self, step_id: str, query: str, found: str) -> list[dict[str, Any]]:
        """A ``conversation_search`` tool call and its successful return."""
        call = self.tool_call(step_id, "tool_call_message", "conversation_search", {"query": query})
        ret = {"tool_return": found, "tool_call_id": call["tool_call"]["tool_call_id"]}
        return [call, self.tool_return(step_id, ret, name="conversation_search")]

    def assistant(self, step_id: str, text: str) -> dict[str, Any]:
        return self._message("assistant_message", step_id, content=text)


def tool_id(name: str) -> str:
    """The mock's id of one of its tools: the same for a name on every run and every start."""
    return RunIds(f"tool/{name}").new("tool")


def tools_used(messages: list[dict[str, Any]]) -> list[str]:
    """The ids of the tools the messages call, each once, in the order first called."""
    found: list[str] = []
    for message in messages:
        call = message.get("tool_call") if message["message_type"] == "tool_call_message" else None
        if isinstance(call, dict):
            called = tool_id(str(call.get("name")))
            if called not in found:
                found.append(called)
    return found


def reply_to(text: str) -> str:
    if not text:
        return "I received your message, but it had no text I could read."
    snippet = text if len(text) <= 200 else text[:197] + "..."
    return f"You said: {snippet}"


def _loop_steps(request: dict[str, Any]) -> int:
    """Steps of a ``stop:max_steps`` tool loop: the request's budget, at least 1, at most 3."""
    budget = int(request.get("max_steps", 1) or 1)
    return max(1, min(budget, 3))


def planned_steps(scenario: Scenario, request: dict[str, Any]) -> int:
    """How many steps a run that ends as ``scenario`` plans takes."""
    if scenario.uses_tools:
        return 2
    if scenario.status == RUN_STATUS.completed and scenario.stop_reason == STOP_REASON.max_steps:
        return _loop_steps(request)
    return 1


def _complete(conv: Conversation, scenario: Scenario, said: str) -> list[StepDraft]:
    """The steps of a run that ends normally (completed), as the scenario asks."""
    reason = scenario.stop_reason or STOP_REASON.end_turn
    first = StepDraft(stop_reason=reason)
    steps = [first]
    step_id = conv.ids.new("step")
    first.messages.extend(conv.received(step_id))
    reply = reply_to(said)
    if reason == STOP_REASON.max_steps:
        first.stop_reason = None  # steps that call a tool record no stop reason
        loops = _loop_steps(conv.request)
        for index in range(loops):
            draft = first if index == 0 else StepDraft()
            if index:
                steps.append(draft)
            sid = step_id if index == 0 else conv.ids.new("step")
            draft.messages.append(conv.reasoning(sid, f"Searching again (step {index + 1})."))
            draft.messages.extend(conv.search(sid, said, "No results found."))
        return steps
    if reason == STOP_REASON.requires_approval:
        first.messages.append(conv.reasoning(step_id, "This action needs the user's approval."))
        first.messages.append(
            conv.tool_call(step_id, "approval_request_message", "send_email", {"body": reply})
        )
        return steps
    if scenario.uses_tools:
        first.messages.append(conv.reasoning(step_id, "Let me look this up first."))
        first.messages.extend(
            conv.search(step_id, said, f"Found 1 earlier message about: {said[:60]}")
        )
        first.stop_reason = None  # the step that called the tool records none; the reply does
        second = StepDraft(stop_reason=reason)
        steps.append(second)
        sid = conv.ids.new("step")
        second.messages.append(conv.reasoning(sid, "I have what I need; answering."))
        second.messages.append(conv.assistant(sid, reply))
        return steps
    first.messages.append(
        conv.reasoning(step_id, f"The user wrote {_words(said)} words; replying.")
    )
    if reason == STOP_REASON.max_tokens_exceeded:
        first.messages.append(conv.assistant(step_id, reply[: max(1, len(reply) // 2)]))
    elif reason != STOP_REASON.no_tool_call:
        first.messages.append(conv.assistant(step_id, reply))
    return steps


@dataclass
class RunOutput:
    messages: list[dict[str, Any]]
    steps: list[dict[str, Any]]
    usage: dict[str, Any]


def _count_tokens(steps: list[StepDraft], said: str) -> None:
    prompt = 40 + 2 * _words(said)
    for step in steps:
        produced = sum(
            _words(json.dumps({k: v for k, v in m.items() if k in ("content", "reasoning")}))
            for m in step.messages
        )
        step.prompt_tokens = prompt
        step.completion_tokens = max(1, produced)
        prompt += step.completion_tokens


def run_output(
    run_id: str,
    agent_id: str,
    request: dict[str, Any],
    scenario: Scenario,
    status_reached: str,
    stop_reason: str,
    moment: float,
    ran: bool,
    no_step: bool = False,
) -> RunOutput:
    """What a run leaves behind once it ends; the same arguments give the same output.

    Completed runs keep their messages. Failed and cancelled ones keep none (the server
    stores a step's messages only when the step succeeds), but record the step that broke.
    A run that takes no step (``no_step``) leaves nothing, not even the user's message.
    """
    conv = Conversation(run_id, agent_id, request, moment, RunIds(run_id))
    said = user_text(request)
    if no_step:
        drafts: list[StepDraft] = []
    elif stop_reason in (STOP_REASON.cancelled,) or scenario.status != status_reached:
        drafts = [StepDraft(stop_reason=stop_reason, status=STEP_CANCELLED)] if ran else []
    elif scenario.kind == "fail":  # the LLM call failed: the step says so, the run says error
        step_reason = STOP_REASON.llm_api_error if stop_reason == STOP_REASON.error else stop_reason
        drafts = [StepDraft(stop_reason=step_reason, status=STEP_FAILED)]
    else:
        drafts = _complete(conv, scenario, said)
    _count_tokens(drafts, said)
    steps: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    for draft in drafts:
        step_id = draft.messages[0]["step_id"] if draft.messages else conv.ids.new("step")
        answered = draft.status != STEP_FAILED  # the LLM answered: there are token details
        kept = draft.messages if draft.status == STEP_SUCCESS else []
        messages.extend(kept)
        steps.append(
            shaped(
                "step",
                {
                    "id": step_id,
                    "organization_id": ORGANIZATION_ID,
                    "run_id": run_id,
                    "agent_id": agent_id,
                    "provider_name": "letta-mock",
                    "provider_category": "base",
                    "model": MODEL,
                    "model_handle": MODEL,
                    "model_endpoint": None,
                    "context_window_limit": CONTEXT_WINDOW,
                    "completion_tokens": draft.completion_tokens,
                    "prompt_tokens": draft.prompt_tokens,
                    "total_tokens": draft.completion_tokens + draft.prompt_tokens,
                    "completion_tokens_details": {"reasoning_tokens": 0} if answered else None,
                    "prompt_tokens_details": dict.fromkeys(PROMPT_TOKEN_DETAILS, 0)
                    if answered
                    else None,
                    "stop_reason": draft.stop_reason,
                    "tags": [],
                    "messages": [],
                    "error_type": None if answered else STEP_ERROR_TYPE,
                    "error_data": None
                    if answered
                    else {
                        "message": failure_text(stop_reason),
                        "traceback": FAILED_STEP_TRACEBACK,
                        "details": None,
                    },
                    "status": draft.status,
                },
            )
        )
    completion = sum(s.completion_tokens for s in drafts)
    prompt = sum(s.prompt_tokens for s in drafts)
    usage = shaped(
        "usage-statistics",
        {
            "completion_tokens": completion,
            "prompt_tokens": prompt,
            "total_tokens": completion + prompt,
        },
    )
    return RunOutput(messages, steps, usage)


def failure_text(stop_reason: str) -> str:
    return (
        f"INTERNAL_SERVER_ERROR: the mock scenario made this run fail ({stop_reason}); "
        "a real server would report the LLM or tool error here."
    )


def visible(
    messages: list[dict[str, Any]], include_types: list[str] | None
) -> list[dict[str, Any]]:
    """The run's messages its ``include_return_message_types`` lets through (null: all)."""
    if include_types is None or len(include_types) == 0:
        return list(messages)
    wanted = set(include_types)
    return [m for m in messages if m["message_type"] in wanted]
