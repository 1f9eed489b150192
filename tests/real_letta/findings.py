"""What the differences between the mock and a real Letta 0.16.8 mean, by name.

Each finding is one thing the real server does, with a predicate recognising the
differences it causes. Three kinds:

* ``quirk``: the real server departs from (or goes beyond) the documented contract; a
  ``letta-0.16.8`` compatibility profile of the mock should reproduce it, each quirk under its
  own name so it can be switched on and off alone;
* ``bug``: the mock is wrong even under the documented contract; it should change in every
  profile;
* ``environment``: the difference comes from the real server's set-up (the fake LLM and its
  provider), not from the contract; a profile may imitate it, none has to.

A difference is attributed to the first finding (lowest ``priority``) that recognises it:
the ones recognised by their aspect alone (key order, naive timestamps) and the reasoning
messages of the mock first, then those tied to particular cases, then the general ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from differential import Difference

Kind = Literal["quirk", "bug", "environment"]
Predicate = Callable[[Difference], bool]
NS_FIELDS = frozenset({"ttft_ns", "total_duration_ns"})
# What a run that ends differently changes: how it ended, and what it left behind.
RUN_OUTCOME = (
    r"^poll\.(statuses|fields_changing_together|timed_out|terminal(\.(status|stop_reason"
    r"|metadata(\..*)?))?|last(\..*)?)$|^messages\."
)


@dataclass(frozen=True)
class Finding:
    name: str
    kind: Kind
    real: str
    mock: str
    reproduce: str
    matches: Predicate
    priority: int = 50


def where(
    *,
    aspect: str | None = None,
    path: str | None = None,
    case: str | None = None,
    test: Callable[[Any, Any], bool] | None = None,
) -> Predicate:
    """A predicate on a difference: its aspect, a regex on its path and on its case name,
    and a test of (mock value, real value)."""

    def predicate(d: Difference) -> bool:
        return (
            (aspect is None or d.aspect == aspect)
            and (path is None or re.search(path, d.path) is not None)
            and (case is None or re.search(case, d.case) is not None)
            and (test is None or test(d.mock_value, d.real_value))
        )

    return predicate


def either(*predicates: Predicate) -> Predicate:
    return lambda d: any(p(d) for p in predicates)


def _without_running_and_ns(groups: Any) -> Any:
    """Change groups as they would be without a ``running`` phase and the two ns fields."""
    if not isinstance(groups, list):
        return groups
    kept = [g for g in groups if isinstance(g, list)]
    if kept and kept[0] == ["status"]:
        kept = kept[1:]
    trimmed = [[k for k in g if k not in NS_FIELDS] for g in kept]
    return [g for g in trimmed if g]


def _statuses_differ_only_by_running(mock: Any, real: Any) -> bool:
    return isinstance(mock, list) and [s for s in mock if s != "running"] == real


def _changes_explained_by_running_and_ns(mock: Any, real: Any) -> bool:
    return bool(_without_running_and_ns(mock) == real)


def _mock_adds_reasoning(mock: Any, real: Any) -> bool:
    return isinstance(mock, list) and [t for t in mock if t != "reasoning_message"] == real


def _zoned_vs_naive(mock: Any, real: Any) -> bool:
    return "Z)" in str(mock) and "no offset" in str(real)


def _list_vs_string(mock: Any, real: Any) -> bool:
    return isinstance(mock, dict) and "array of length" in mock and isinstance(real, str)


FINDINGS: list[Finding] = [
    # -- quirks: the run's outcome -------------------------------------------------------
    Finding(
        "background-validation",
        "quirk",
        'An empty `messages` list, an empty `input` (`""` or `[]`) and empty message '
        'content (`""` or `[]`) are accepted with **200** and a `created` run; the run then '
        "fails in the background: `status: failed`, `stop_reason: error`, `metadata.error` "
        '`"list index out of range"` (empty `messages`) or `"Message content is empty or '
        'invalid"`, and no messages are listed for it.',
        "the `strict` profile does the same (the documentation accepts these bodies); "
        "`--no-quirk background-validation` answers 422 (`too_short` / `empty_content`).",
        "`background/messages-empty-list`, `background/input-empty-*`, "
        "`background/content-empty-*`.",
        where(case=r"^background/(messages-empty|input-empty|content-empty)"),
        priority=10,
    ),
    Finding(
        "approval-needs-pending-request",
        "quirk",
        "A well-formed approval (`type: approval`, or `approve` + `approval_request_id`) or "
        "`tool_return` message sent when no tool call awaits approval is accepted (200), and "
        'the run fails: `failed`/`error`, `metadata.error` `"Cannot process approval '
        "response: No tool call is currently awaiting approval. Please send a regular message "
        'to interact with the agent."`.',
        "completes the run (`completed`/`end_turn`) with an approval-response or tool-return "
        "message, whatever the agent's state.",
        "`valid/approval-*`, `valid/tool-return-create-*` (against an agent with no pending "
        "approval).",
        where(case=r"^valid/(approval|tool-return-create)", path=RUN_OUTCOME),
        priority=10,
    ),
    Finding(
        "image-url-fetched-in-background",
        "quirk",
        "Image parts with a `url` source are fetched by the server after the 200, while the "
        "run runs; a URL it cannot fetch (no network here; or a `file://` URL) fails the run: "
        '`failed`/`error`, `metadata.error` `"INVALID_ARGUMENT: Failed to fetch image from '
        '<url>: ..."` or `"INVALID_ARGUMENT: Unsupported image URL scheme \'file\'. ..."`.',
        "never fetches image URLs; the run completes.",
        "`valid/input-image-from-url`, `valid/*-every-content-part`, "
        "`background/image-url-bad-scheme`.",
        where(
            case=r"^(valid/(input-image-from-url|input-every-content-part"
            r"|message-every-content-part)|background/image-url-bad-scheme)$",
            path=RUN_OUTCOME,
        ),
        priority=10,
    ),
    Finding(
        "unknown-override-model-fails-run",
        "quirk",
        "`override_model` is resolved in the background: a handle the server does not know "
        'gives 200 and then `failed`/`error` with `metadata.error` `"NOT_FOUND: Handle '
        '<handle> not found, must be one of []"`. Which handles exist depends on the '
        "deployment (this one knows only `openai-proxy/...`, so even `openai/gpt-4o-mini` "
        "and `anthropic/claude-sonnet-4-5` fail).",
        "accepts any handle and completes the run.",
        "`background/unknown-override-model`, `valid/option-override-model`, "
        "`valid/every-option`. A profile needs a configurable list of known handles.",
        where(
            case=r"^(background/unknown-override-model|valid/(option-override-model"
            r"|every-option))$",
            path=RUN_OUTCOME,
        ),
        priority=10,
    ),
    Finding(
        "zero-steps-run",
        "quirk",
        '`max_steps` 0 (or negative, or a lax `false`/`"0"`/`0.0`) runs no step: the run '
        "ends `completed`/`end_turn` at once, with **no messages at all (not even the user's)"
        "**, no steps and zero usage; its callback carries `result.messages: []`.",
        "ignores `max_steps` (outside the `stop:max_steps` scenario): one step, a user, a "
        "reasoning and an assistant message.",
        "`lifecycle/max-steps-zero`, `callback/receiver-500`.",
        where(
            case=r"^(lifecycle/max-steps-zero|callback/receiver-500)$",
            path=r"^(messages|steps)\.|^callback\.body\.metadata\.result\.messages",
        ),
        priority=10,
    ),
    Finding(
        "cancel-overwritten-by-completion",
        "quirk",
        "A cancel does not stop the work in flight: the run shows `cancelled`/`cancelled` "
        "with `completed_at` set, then the LLM call that was running finishes and writes "
        "`completed`/`end_turn` over it (`completed_at` keeps the cancel time, no second "
        "callback, the messages of that step are kept). Statuses seen: `created -> cancelled "
        "-> completed`.",
        "a cancelled run stays cancelled and keeps no messages.",
        "`cancel/in-flight` (with `callback_url`), `cancel/no-body` (bare cancel); the fake "
        "LLM is slowed with `[[slow:2]]`.",
        where(
            case=r"^cancel/(in-flight|no-body)$",
            path=r"^poll\.(statuses|fields_changing_together|last(\..*)?)$|^messages\.",
        ),
        priority=10,
    ),
    Finding(
        "cancel-answers-after-callback",
        "quirk",
        "When the cancelled run has a `callback_url`, the cancel request sends the callback "
        "itself and answers only after it has been delivered (the cancel takes 0.8-1.9 s): "
        "the callback has always arrived when the cancel answers, and the first GET after it "
        "shows `callback_sent_at`/`callback_status_code` together with `cancelled`.",
        "answers the cancel at once and sends the callback from a background thread, so "
        "whether it has arrived when the answer does is a race (and a poller may see "
        "`cancelled` before the callback fields).",
        "`cancel/in-flight` (`cancel.callbacks_before_answer`: 1 on the real server).",
        either(
            where(case=r"^cancel/in-flight$", path=r"^cancel\.callbacks_before_answer$"),
            where(case=r"^cancel/in-flight$", path=r"^poll\.terminal\.callback_", aspect="null"),
        ),
        priority=10,
    ),
    Finding(
        "callback-sent-at-on-failure",
        "quirk",
        '`callback_url` is any string: `"not a url"` is accepted, an attempt is made and '
        "fails, and the run records **`callback_sent_at` (the attempt time)** plus "
        '`callback_error` `"Failed to dispatch callback for run <id> to not a url: '
        'UnsupportedProtocol(...)"`, `callback_status_code` null.',
        "refuses to send (host check) and records only `callback_error`; `callback_sent_at` "
        "stays null.",
        "`callback/not-a-url`.",
        where(
            case=r"^callback/not-a-url$",
            path=r"^poll\.(last\.callback_sent_at|fields_changing_together)$",
        ),
        priority=10,
    ),
    Finding(
        "step-stop-reason",
        "quirk",
        "Step records carry their own stop reasons, not the run's: a step that ran out of "
        "`max_steps` has `stop_reason: null` (the run says `max_steps`), and a step whose LLM "
        "call failed has `llm_api_error` with `error_type` (e.g. `LLMServerError`) and "
        "`error_data` `{message, traceback, details}` (the run says `error`).",
        "copies the run's stop reason onto its last step.",
        "`lifecycle/tool-loop-max-steps`, `lifecycle/llm-error`.",
        where(
            case=r"^lifecycle/(tool-loop-max-steps|llm-error)$",
            path=r"^steps\.(status_and_stop_reason|first\.stop_reason)$",
        ),
        priority=10,
    ),
    Finding(
        "run-id-trailing-newline",
        "quirk",
        "The run-id format check accepts one trailing newline (`run-<uuid4>\\n`), so such an "
        "id gets **404** `Run not found ...` instead of the 400 `INVALID_ARGUMENT` every other "
        "malformed run id gets (on `/v1/runs/{id}`, `/messages`, `/steps`, `/usage`). (Agent "
        "ids with a trailing newline are still 422.)",
        "400, as the fixture `path-ids.json` (run_ids/trailing-newline) says; that fixture's "
        "expected status holds for the documented contract only.",
        "`run-id/trailing-newline`.",
        where(case=r"^run-id/trailing-newline$"),
        priority=10,
    ),
    Finding(
        "cancel-skips-agent-check",
        "quirk",
        "`POST /v1/agents/{agent_id}/messages/cancel` never checks that the agent exists: a "
        "well-formed unknown agent gets **409** `CONFLICT: No active runs to cancel for agent "
        "<id>` (with `run_ids`, 200 and per-run results).",
        "404 `Agent not found`.",
        "`unknown/agent`.",
        where(case=r"^unknown/agent$", path=r"^cancel\."),
        priority=10,
    ),
    Finding(
        "bare-redirect",
        "quirk",
        "The 307 for the other trailing-slash form has an **empty body and no "
        "Content-Type**; only `location` (absolute) matters.",
        'a JSON body `{"detail": "Use <path>"}` with `Content-Type: application/json`.',
        "`routing/trailing-slash`.",
        where(case=r"^routing/trailing-slash$"),
        priority=10,
    ),
    Finding(
        "405-allow-patch",
        "quirk",
        "GET or PUT on `/v1/agents/{id}/messages/async` gives 405 with **`allow: PATCH`**: "
        "the path also matches the message route `/v1/agents/{id}/messages/{message_id}` "
        "(PATCH), and that is the method reported.",
        "`Allow: POST, OPTIONS`.",
        "`routing/wrong-method`.",
        where(case=r"^routing/wrong-method$", path=r"\.headers$"),
        priority=10,
    ),
    Finding(
        "delete-run-500",
        "quirk",
        '`DELETE /v1/runs/{id}` answers **500** `{"detail":"An unknown error occurred"}` '
        "(the server calls a method that does not exist) and the run is not deleted.",
        "has no DELETE route (405); under the quirk `delete-run-500` (in the `letta-0.16.8` "
        "profile) the same 500, and the run stays.",
        "`runs/delete`. The route itself is documented; the strict profile does not serve it.",
        where(case=r"^runs/delete$", path=r"^delete\."),
        priority=10,
    ),
    Finding(
        "tool-return-named-after-tool",
        "quirk",
        "A `tool_return_message` has `name` set to the tool's name (e.g. `conversation_search`).",
        "the same, in every profile, for the tools the mock calls (`conversation_search`); a "
        "tool return the client sent has `name: null`.",
        "`lifecycle/tool-call`, `lifecycle/tool-loop-max-steps`.",
        where(path=r"tool_return_message\.name$", aspect="null"),
        priority=20,
    ),
    Finding(
        "duration-listing-only",
        "quirk",
        "`total_duration_ns` is null in the POST answer and on `GET /v1/runs/{id}` for ever; "
        "only the items of `GET /v1/runs/` carry it, and only from about 1.2 s after the run "
        "ended (null in a listing made right at the end). Also known as "
        "`duration-only-in-listing`.",
        "sets `total_duration_ns` on the run at the terminal transition, everywhere.",
        "`lifecycle/complete` (`listed` right after the end: null; `listed-later`, 2 s on: "
        "a number on both sides), every case that polls a run.",
        where(path=r"\.total_duration_ns$", aspect="null", test=lambda m, r: r is None),
        priority=30,
    ),
    Finding(
        "ttft-null",
        "quirk",
        "`ttft_ns` is always null: POST answer, GET, listing and after the end.",
        "sets `ttft_ns` when a run completes.",
        "any case that polls a run to `completed`.",
        where(path=r"\.ttft_ns$", aspect="null", test=lambda m, r: r is None),
        priority=30,
    ),
    Finding(
        "no-running-status",
        "quirk",
        "A run of this endpoint goes `created -> completed | failed | cancelled`; "
        "**`running` is never shown**, and `status`, `stop_reason` and `completed_at` (plus "
        "`metadata.error` on failure) change in one step.",
        "`created -> running -> <terminal>` (with the per-poll clock, each GET moves one "
        "phase); `ttft_ns` and `total_duration_ns` change with the terminal status.",
        "any case that polls a run. Differences in `fields_changing_together` that vanish "
        "once the `running` step and the two ns fields are taken out are counted here.",
        either(
            where(path=r"^poll\.statuses$", test=_statuses_differ_only_by_running),
            where(
                path=r"^poll\.fields_changing_together$",
                test=_changes_explained_by_running_and_ns,
            ),
        ),
        priority=30,
    ),
    Finding(
        "naive-completed-at",
        "quirk",
        "`completed_at` and `callback_sent_at` have **no UTC offset** "
        "(`2026-11-22T01:57:34.634083`), whereas `created_at` ends in `Z`. The callback "
        "payload's `completed_at` is naive too (and is the time the callback was sent, not "
        "the run's `completed_at`).",
        "`...Z` everywhere.",
        "any case that polls a run to its end; `callback/*`.",
        where(aspect="format", path=r"(completed_at|callback_sent_at)$", test=_zoned_vs_naive),
        priority=5,
    ),
    Finding(
        "string-422-detail",
        "quirk",
        'Every 422 (body, path or query) is `{"trace_id": "", "detail": "<Python repr '
        'of the pydantic error list>"}`: `detail` is **a string** (single quotes, tuples for '
        "`loc`), not the documented array, and there is an extra `trace_id` key first.",
        '`{"detail": [{"loc": [...], "msg": ..., "type": ...}]}`.',
        "every `invalid/*`, `divergent/*` rejected by the server, `agent-id/*`, `body/*` "
        "422s, `runs/list-queries`.",
        either(
            where(aspect="type", path=r"\.body\.detail$", test=_list_vs_string),
            where(aspect="missing-key", path=r"\.body\.trace_id$"),
        ),
        priority=30,
    ),
    Finding(
        "path-id-422-examples",
        "quirk",
        'A 422 for a malformed path id (`agent_id`) adds `"examples": '
        '["agent-123e4567-e89b-42d3-8456-426614174000"]` after `detail`, and its error '
        "item says `string_pattern_mismatch` with msg `String should match pattern "
        "'agent-{uuid4}'` (also for the cancel route).",
        "no `examples` key.",
        "`agent-id/*`.",
        where(aspect="missing-key", path=r"\.body\.examples$"),
        priority=30,
    ),
    Finding(
        "declaration-key-order",
        "quirk",
        "Keys come in the server models' declaration order, not the documentation's "
        "alphabetical order: `request_config` is `use_assistant_message, "
        "assistant_message_tool_name, assistant_message_tool_kwarg, "
        "include_return_message_types`; messages put `message_type` fourth (`id, date, name, "
        "message_type, otid, sender_id, step_id, is_err, seq_id, run_id, ...`); a tool "
        "return is `tool_return, status, tool_call_id, ...`.",
        "follows the property order of the kit's schemas, which list properties in the "
        "server's declaration order (`request-config.json`, the message schemas, `step.json`), "
        "in every profile; the items of `tool_returns` are shaped by `tool-return.json` in the "
        "server's order (`type, tool_return, status, tool_call_id, stdout, stderr`).",
        "any case with a run or messages.",
        where(aspect="key-order"),
        priority=5,
    ),
    Finding(
        "httpx-callback-client",
        "quirk",
        "The callback comes from `python-httpx/0.28.1` (headers `Host, Accept: */*, "
        "Accept-Encoding: gzip, deflate, br, zstd, Connection: keep-alive, User-Agent, "
        "Content-Length, Content-Type: application/json`). Cosmetic.",
        "`python-requests/<version>`; under the quirk `httpx-callback-client` (in the "
        "`letta-0.16.8` profile) the headers of `python-httpx/0.28.1`.",
        "`callback/*`.",
        where(path=r"^callback\.user_agent$"),
        priority=40,
    ),
    # -- the set-up, not the contract ----------------------------------------------------
    Finding(
        "non-reasoning-model",
        "environment",
        "The fake LLM is not a reasoning model, so the real runs have no `reasoning_message`.",
        "adds a `reasoning_message` before every reply or tool call.",
        "`lifecycle/*`, `callback/completed`. A profile could leave reasoning out unless the "
        "agent's model reasons.",
        either(
            where(path=r"\.types$", test=_mock_adds_reasoning),
            where(path=r"\.one_of_each_type\.reasoning_message$", aspect="extra-key"),
            where(case=r"^callback/completed$", path=r"^callback\.body\.metadata\.result"),
        ),
        priority=8,
    ),
    Finding(
        "llm-steered-outcome",
        "environment",
        "The fake LLM's `[[empty]]` reply (no content, no tool call) gives "
        "`completed`/`end_turn` with only the user message; its 400 gives a "
        "`metadata.error` starting `INVALID_ARGUMENT: Bad request to OpenAI-compatible "
        "endpoint`.",
        "has no empty-reply scenario (the run gets a reply); its `fail` scenario's error text "
        "starts `INTERNAL_SERVER_ERROR`.",
        "`lifecycle/empty-reply`, `callback/failed`.",
        either(
            where(case=r"^lifecycle/empty-reply$", path=r"^messages\."),
            where(case=r"^callback/failed$", path=r"metadata\.error$"),
        ),
        priority=20,
    ),
    Finding(
        "listing-timing",
        "environment",
        "The real server ends a run on its own time and records `total_duration_ns` for "
        "listings about 1.2 s later; the runner lists right after it has seen the end, which "
        "may be more than 1.2 s after the real end (then the real item has the duration).",
        "ends a run at the poll that sees it (per-poll clock), so a listing made right after is "
        "always within the 1.2 s and null; `listed-later` (2 s on) checks the value on both "
        "sides.",
        "`lifecycle/*` (`listed`), depending on timing.",
        where(
            path=r"^listed\.item\.total_duration_ns$",
            aspect="null",
            test=lambda m, r: m is None and r is not None,
        ),
        priority=25,
    ),
    Finding(
        "provider-ids-and-endpoints",
        "environment",
        "Tool-call ids come from the LLM provider (`call_<24 hex>` here); steps name the "
        "provider's `model_endpoint` (`http://127.0.0.1:18080/v1`).",
        "`call-<uuid4>` ids and `model_endpoint: null`.",
        "`lifecycle/tool-call`, `lifecycle/complete`.",
        either(
            where(aspect="format", path=r"tool_call_id$"),
            where(path=r"^steps\.first\.model_endpoint$"),
        ),
        priority=20,
    ),
    # -- mock bugs -----------------------------------------------------------------------
    Finding(
        "incomplete-step-objects",
        "bug",
        "A Step (documented `Step` of `GET /v1/runs/{id}/steps`) has 31 keys: also `origin, "
        "organization_id, provider_id, provider_category, model_handle, cached_input_tokens, "
        "cache_write_tokens, reasoning_tokens, completion_tokens_details, "
        "prompt_tokens_details, tags, tid, trace_id, request_id, feedback, project_id, "
        "error_type, error_data`.",
        "fixed: the 31 keys in the server's order (`step.json`); the provider's values are the "
        "mock's own (see `provider-ids-and-endpoints`).",
        "any case listing steps.",
        where(aspect="missing-key", path=r"^steps\.first\."),
        priority=20,
    ),
    Finding(
        "unshaped-tool-returns",
        "bug",
        "Each item of a `tool_return_message`'s `tool_returns` is a full documented "
        "`ToolReturn`: `tool_return, status, tool_call_id, stdout, stderr, type` (`type: "
        '"tool"`).',
        'fixed: each item is shaped by `tool-return.json` (`type: "tool"`, `stdout` and '
        "`stderr` null unless the request gave them).",
        "`lifecycle/tool-call`, `lifecycle/tool-loop-max-steps`.",
        where(aspect="missing-key", path=r"\.tool_returns\[\d+\]\.\w+$"),
        priority=20,
    ),
    Finding(
        "no-metrics-route",
        "bug",
        "`GET /v1/runs/{id}/metrics` (documented) answers 200 `{id, organization_id, "
        "agent_id, project_id, run_start_ns, run_ns, num_steps, tools_used, template_id, "
        "base_template_id}`.",
        "fixed: the route answers the same keys in the same order (`run-metrics.json`); "
        "`run_ns` is null while the run is active and `tools_used` holds the mock's stable "
        "tool ids.",
        "`lifecycle/complete`.",
        where(path=r"^metrics\."),
        priority=20,
    ),
]

ALREADY_ALIKE: list[tuple[str, str]] = [
    (
        "lax-coercion",
        'Lax values the server coerces (`use_assistant_message` `"yes"`, `0`, `1.0`, '
        '`"OFF"`; `max_steps` `" 0 "`, `false`, `0.0`) are accepted, and the mock stores '
        "the coerced value in `request_config` as the server does (`lax/*` show no "
        "`request_config` difference).",
    ),
    (
        "409-on-nothing-to-cancel",
        'A cancel with no body, `{}`, `{"run_ids": null}` or `{"run_ids": []}` when '
        "nothing is active gives 409 `CONFLICT: No active runs to cancel for agent <id>` on "
        "both (`cancel/nothing-active`).",
    ),
    (
        "cancel-result-map",
        'Cancel answers 200 `{"<run_id>": "cancelled"}`; `"failed"` for an unknown or '
        'malformed run id; `"cancelled"` and no change for an already terminal run '
        "(`cancel/unknown-run-id`, `cancel/malformed-run-id`, `cancel/terminal-run`).",
    ),
    (
        "callback-result-metadata",
        "The callback body is `{run_id, status, completed_at, metadata: {run_type, lettuce, "
        "[error], result: {messages, stop_reason, usage, logprobs, turns}}}`, filtered by "
        "`include_return_message_types`, also sent for failed and cancelled runs, once "
        "(`callback/*`: no difference in keys or types).",
    ),
    (
        "malformed-run-id-400",
        "Malformed run ids get 400 `INVALID_ARGUMENT: Invalid run ID format: ...` on "
        "`/v1/runs/{id}` and its sub-routes; unknown ones 404 (`run-id/*`, `unknown/run`).",
    ),
]


BY_PRIORITY = sorted(FINDINGS, key=lambda f: f.priority)


def attribute(difference: Difference) -> Finding | None:
    """The finding that explains ``difference`` (None: none does)."""
    for finding in BY_PRIORITY:
        if finding.matches(difference):
            return finding
    return None


def from_environment(difference: Difference) -> bool:
    """Whether ``difference`` comes from the real server's set-up rather than the contract."""
    finding = attribute(difference)
    return finding is not None and finding.kind == "environment"
