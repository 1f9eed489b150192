"""The differential test: one corpus of requests, sent to the mock and to a real Letta server.

A *case* is a short sequence of steps (send a request, poll a run until it ends, wait for
its callback, ...). The runner plays the same sequence against both servers at once, turns
what each one answered into *observations* (``post.status``, ``post.body``,
``poll.statuses``, ``callback.body``, ...) and compares them observation by observation:
status codes, headers and sequences literally, bodies by shape (see ``shapes``). Generated
ids each side made for the case (its agent, the runs it created, the callback URL, its base
URL) are replaced by the same placeholders on both sides first, so ``{"⟨run⟩": "cancelled"}``
compares equal while a ``run_id`` of ``null`` does not.

The corpus is data: ``corpus()`` builds it from the kit's fixtures plus the routing,
lifecycle, callback and cancel sequences below.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, Literal
from urllib.parse import quote

import requests
from callback_recorder import CallbackRecorder
from requests.adapters import HTTPAdapter
from shapes import ABSENT, Mismatch, compare, literal_under, substitute
from urllib3.util.retry import Retry

from letta_contract_kit import fixtures
from letta_contract_kit.mockserver.scenarios import SCENARIO_HEADER

Side = Literal["mock", "real"]

REQUEST_TIMEOUT = 30.0
POLL_INTERVAL = 0.1
POLL_DEADLINE = 30.0  # an image URL the server cannot fetch takes two 5 s attempts
POLL_TIMEOUT = 10.0
CALLBACK_DEADLINE = 10.0
CASE_DEADLINE = 60.0
TERMINAL = frozenset({"completed", "failed", "cancelled"})
CALLBACK_FIELDS = ("callback_sent_at", "callback_status_code", "callback_error")
# What every run echoes from the request: compared literally, not by shape.
RUN_ECHOES = ("$.request_config", "$.callback_url", "$.callback_status_code")
NO_JSON: Any = object()
ASYNC_PATH = "/v1/agents/{agent}/messages/async"
CANCEL_PATH = "/v1/agents/{agent}/messages/cancel"
# A loopback port nobody listens on (tcpmux): connecting is refused at once.
CLOSED_PORT_URL = "http://127.0.0.1:1/cb"


# -- what a case is made of ------------------------------------------------------------


@dataclass(frozen=True)
class Send:
    """One HTTP request. ``path`` and string values in ``json`` may hold placeholders:
    ``{agent}``, ``{run}`` / ``{run:NAME}`` (a run this case created), ``{unknown_agent}``,
    ``{unknown_run}`` (well-formed ids nobody has) and ``{receiver}`` (this case's callback
    URL on the recorder).

    ``view`` says which observations the answer gives: ``body`` (the JSON body, by shape),
    ``messages`` (a run's messages: their types in order, and one of each type by shape),
    ``steps`` (count, statuses and stop reasons of steps, and the first by shape),
    ``listed-run`` (the item of a runs listing that is ``{run}``) or ``none``. With
    ``count_callbacks``, also how many callbacks of this case had arrived when the answer
    did.
    """

    label: str
    method: str
    path: str
    json: Any = NO_JSON
    data: bytes | None = None
    content_type: str | None = None
    scenario: str | None = None
    remember: str | None = None
    view: str = "body"
    headers: tuple[str, ...] = ("content-type",)
    literal: tuple[str, ...] = ()
    compare: bool = True
    count_callbacks: bool = False


@dataclass(frozen=True)
class Poll:
    """GET a run until it is terminal; then on for ``settle`` seconds (to see it change
    again), and with ``callback`` until its callback fields are filled in.

    Observes the statuses seen (starting with the answer that created the run), which
    fields changed together from one snapshot to the next, the first terminal snapshot and
    the last one."""

    run: str = "run"
    label: str = "poll"
    settle: float = 0.0
    callback: bool = False


@dataclass(frozen=True)
class Pause:
    seconds: float


@dataclass(frozen=True)
class AwaitCallbacks:
    """Wait for this case's callback POSTs on the recorder (then ``quiet`` more seconds for
    any further one)."""

    label: str = "callback"
    quiet: float = 1.0


Step = Send | Poll | Pause | AwaitCallbacks


@dataclass(frozen=True)
class Case:
    name: str
    steps: tuple[Step, ...]
    purpose: str = ""

    @property
    def group(self) -> str:
        return self.name.split("/", 1)[0]


@dataclass(frozen=True)
class Difference:
    case: str
    aspect: str
    path: str
    mock_value: Any
    real_value: Any


@dataclass(frozen=True)
class Observation:
    value: Any
    literal: bool = False
    literal_paths: tuple[str, ...] = ()


@dataclass(frozen=True)
class Target:
    side: Side
    base_url: str
    agent_id: str


@dataclass
class Played:
    """What one side answered to one case."""

    side: Side
    observations: dict[str, Observation] = field(default_factory=dict)
    replacements: dict[str, str] = field(default_factory=dict)
    runs_created: int = 0
    seconds: float = 0.0


# -- playing a case against one side ---------------------------------------------------


def case_slug(name: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")


class _Player:
    def __init__(
        self, case: Case, target: Target, recorder: CallbackRecorder, shared: Mapping[str, str]
    ) -> None:
        self.case = case
        self.target = target
        self.recorder = recorder
        self.runs: dict[str, str] = {}
        self.first_seen: dict[str, dict[str, Any]] = {}
        self.values = {
            "agent": target.agent_id,
            "receiver": recorder.url(f"/cb/{target.side}/{case_slug(case.name)}"),
            **shared,
        }
        self.played = Played(target.side)
        self.session = requests.Session()
        self.session.trust_env = False
        # A server that crashed on a request may close the kept-alive connection: a GET is
        # retried once on a fresh one (never a POST, which could create a second run).
        retry = Retry(total=1, connect=1, read=1, status=0, allowed_methods={"GET"})
        self.session.mount("http://", HTTPAdapter(max_retries=retry))
        self.deadline = time.monotonic() + CASE_DEADLINE

    # placeholders --------------------------------------------------------------------

    def fill(self, text: str) -> str:
        def one(found: re.Match[str]) -> str:
            token = found.group(1)
            if token == "run" or token.startswith("run:"):
                name = "run" if token == "run" else token[4:]
                return self.runs.get(name, f"run-{uuid.UUID(int=0)}")
            return self.values.get(token, found.group(0))

        return re.sub(r"\{([a-z_]+(?::[a-z_-]+)?)\}", one, text)

    def fill_json(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.fill(value)
        if isinstance(value, list):
            return [self.fill_json(v) for v in value]
        if isinstance(value, dict):
            return {k: self.fill_json(v) for k, v in value.items()}
        return value

    def observe(
        self, name: str, value: Any, literal: bool = False, paths: Iterable[str] = ()
    ) -> None:
        self.played.observations[name] = Observation(value, literal, tuple(paths))

    # steps -----------------------------------------------------------------------------

    def play(self) -> Played:
        started = time.monotonic()
        try:
            for step in self.case.steps:
                if time.monotonic() > self.deadline:
                    self.observe("case.deadline", "exceeded", literal=True)
                    break
                if isinstance(step, Send):
                    self.send(step)
                elif isinstance(step, Poll):
                    self.poll(step)
                elif isinstance(step, Pause):
                    time.sleep(step.seconds)
                else:
                    self.await_callbacks(step)
        finally:
            self.session.close()
        self.played.seconds = time.monotonic() - started
        self.played.replacements = self.replacements()
        return self.played

    def replacements(self) -> dict[str, str]:
        found = {
            self.values["receiver"]: "⟨receiver⟩",
            self.target.base_url: "⟨base⟩",
            self.target.agent_id: "⟨agent⟩",
            self.values["unknown_agent"]: "⟨unknown_agent⟩",
            self.values["unknown_run"]: "⟨unknown_run⟩",
        }
        for name, run_id in self.runs.items():
            found[run_id] = "⟨run⟩" if name == "run" else f"⟨run:{name}⟩"
        return found

    def request(self, step: Send) -> requests.Response:
        url = self.target.base_url + self.fill(step.path)
        headers: dict[str, str] = {}
        if step.scenario is not None:
            headers[SCENARIO_HEADER] = step.scenario
        body: bytes | None = step.data
        if step.json is not NO_JSON:
            body = json.dumps(self.fill_json(step.json)).encode()
            headers["Content-Type"] = "application/json"
        if step.content_type is not None:
            headers["Content-Type"] = step.content_type
        return self.session.request(
            step.method,
            url,
            data=body,
            headers=headers,
            timeout=REQUEST_TIMEOUT,
            allow_redirects=False,
        )

    def unknown_run(self, text: str) -> bool:
        """Whether ``text`` names a run this side never created (its POST failed)."""
        for token in re.findall(r"\{(run(?::[a-z_-]+)?)\}", text):
            if (token[4:] if ":" in token else "run") not in self.runs:
                return True
        return False

    def send(self, step: Send) -> None:
        if self.unknown_run(step.path + json.dumps(step.json if step.json is not NO_JSON else "")):
            return
        try:
            answer = self.request(step)
        except requests.RequestException as exc:
            self.observe(f"{step.label}.error", type(exc).__name__, literal=True)
            return
        try:
            body: Any = answer.json()
        except ValueError:
            body = answer.text
        if step.remember and answer.ok and isinstance(body, dict) and "id" in body:
            self.runs[step.remember] = str(body["id"])
            self.first_seen[step.remember] = body
            if step.path == ASYNC_PATH and step.method == "POST":
                self.played.runs_created += 1
        if not step.compare:
            return
        self.observe(f"{step.label}.status", answer.status_code, literal=True)
        if step.count_callbacks:
            arrived = len(self.recorder.received(self.callback_prefix()))
            self.observe(f"{step.label}.callbacks_before_answer", arrived, literal=True)
        wanted = {h: answer.headers[h] for h in step.headers if h in answer.headers}
        if wanted:
            self.observe(f"{step.label}.headers", wanted, literal=True)
        if step.view == "body":
            self.observe(f"{step.label}.body", body, paths=step.literal)
        elif step.view == "messages":
            self.observe_messages(step.label, body)
        elif step.view == "steps":
            self.observe_steps(step.label, body)
        elif step.view == "listed-run":
            self.observe_listed(step.label, body)

    def observe_messages(self, label: str, body: Any) -> None:
        if not isinstance(body, list):
            self.observe(f"{label}.body", body)
            return
        types = [m.get("message_type") if isinstance(m, dict) else m for m in body]
        self.observe(f"{label}.types", types, literal=True)
        first: dict[str, Any] = {}
        for message in body:
            if isinstance(message, dict):
                first.setdefault(str(message.get("message_type")), message)
        self.observe(f"{label}.one_of_each_type", dict(sorted(first.items())))

    def observe_steps(self, label: str, body: Any) -> None:
        if not isinstance(body, list):
            self.observe(f"{label}.body", body)
            return
        self.observe(f"{label}.count", len(body), literal=True)
        summary = [
            {"status": s.get("status"), "stop_reason": s.get("stop_reason")}
            for s in body
            if isinstance(s, dict)
        ]
        self.observe(f"{label}.status_and_stop_reason", summary, literal=True)
        if body:
            self.observe(f"{label}.first", body[0])

    def observe_listed(self, label: str, body: Any) -> None:
        run_id = self.runs.get("run")
        items = [i for i in body if isinstance(i, dict)] if isinstance(body, list) else []
        found = [i for i in items if i.get("id") == run_id]
        self.observe(f"{label}.found", bool(found), literal=True)
        if found:
            self.observe(f"{label}.item", found[0], paths=RUN_ECHOES)

    def poll(self, step: Poll) -> None:
        run_id = self.runs.get(step.run)
        if run_id is None:
            return
        label = step.label
        url = f"{self.target.base_url}/v1/runs/{run_id}"
        # The answer that created the run is the first thing a poller knows of it.
        snapshots: list[dict[str, Any]] = [self.first_seen[step.run]]
        first_terminal: dict[str, Any] | None = None
        terminal_at = 0.0
        deadline = min(self.deadline, time.monotonic() + POLL_DEADLINE)
        if step.callback:
            deadline = min(self.deadline, deadline + CALLBACK_DEADLINE)
        timed_out = True
        while time.monotonic() < deadline:
            try:
                answer = self.session.get(url, timeout=POLL_TIMEOUT)
                run = answer.json()
            except requests.Timeout:
                continue  # a slow answer is not an answer; the deadline bounds the retries
            except (requests.RequestException, ValueError) as exc:
                self.observe(f"{label}.error", type(exc).__name__, literal=True)
                return
            if answer.status_code != 200 or not isinstance(run, dict):
                self.observe(f"{label}.http_status", answer.status_code, literal=True)
                return
            if not snapshots or snapshots[-1] != run:
                snapshots.append(run)
            if first_terminal is None and run.get("status") in TERMINAL:
                first_terminal, terminal_at = run, time.monotonic()
            if first_terminal is not None:
                settled = time.monotonic() - terminal_at >= step.settle
                called = (
                    not step.callback
                    or not run.get("callback_url")
                    or any(run.get(f) is not None for f in CALLBACK_FIELDS)
                )
                if settled and called:
                    timed_out = False
                    break
            time.sleep(POLL_INTERVAL)
        statuses: list[str] = []
        for snap in snapshots:
            if not statuses or statuses[-1] != snap.get("status"):
                statuses.append(str(snap.get("status")))
        changes = [
            sorted(k for k in after if after.get(k) != before.get(k))
            for before, after in pairwise(snapshots)
        ]
        self.observe(f"{label}.statuses", statuses, literal=True)
        self.observe(f"{label}.fields_changing_together", changes, literal=True)
        self.observe(f"{label}.timed_out", timed_out, literal=True)
        if first_terminal is not None:
            self.observe(f"{label}.terminal", first_terminal, paths=RUN_ECHOES)
        if snapshots and snapshots[-1] is not first_terminal:
            self.observe(f"{label}.last", snapshots[-1], paths=RUN_ECHOES)

    def callback_prefix(self) -> str:
        return f"/cb/{self.target.side}/{case_slug(self.case.name)}/"

    def await_callbacks(self, step: AwaitCallbacks) -> None:
        prefix = self.callback_prefix().rstrip("/")
        left = max(0.1, min(CALLBACK_DEADLINE, self.deadline - time.monotonic()))
        found = self.recorder.wait_for(prefix + "/", left)
        if found:
            time.sleep(step.quiet)
            found = self.recorder.received(prefix + "/")
        label = step.label
        self.observe(f"{label}.count", len(found), literal=True)
        if not found:
            return
        first = found[0]
        headers = {k.lower(): v for k, v in first.headers.items()}
        self.observe(f"{label}.method", first.method, literal=True)
        self.observe(f"{label}.content_type", headers.get("content-type"), literal=True)
        self.observe(f"{label}.user_agent", headers.get("user-agent"), literal=True)
        self.observe(f"{label}.body", first.body, paths=("$.metadata.result.usage.run_ids",))
        if len(found) > 1:
            self.observe(f"{label}.second_body", found[1].body)


# -- comparing both sides --------------------------------------------------------------


def compare_played(case: str, mock: Played, real: Played) -> list[Difference]:
    mock_obs = {k: substitute(v.value, mock.replacements) for k, v in mock.observations.items()}
    real_obs = {k: substitute(v.value, real.replacements) for k, v in real.observations.items()}
    names = list(real.observations) + [n for n in mock.observations if n not in real.observations]
    found: list[Difference] = []
    for name in names:
        if name not in mock_obs:
            found.append(Difference(case, "missing-observation", name, ABSENT, real_obs[name]))
            continue
        if name not in real_obs:
            found.append(Difference(case, "extra-observation", name, mock_obs[name], ABSENT))
            continue
        how = real.observations[name]
        if how.literal or mock.observations[name].literal:
            if mock_obs[name] != real_obs[name]:
                found.append(Difference(case, "value", name, mock_obs[name], real_obs[name]))
            continue
        mismatches: list[Mismatch] = compare(
            mock_obs[name], real_obs[name], literal=literal_under(*how.literal_paths)
        )
        for m in mismatches:
            path = name + m.path[1:]
            found.append(Difference(case, m.aspect, path, m.mock_value, m.real_value))
    return found


@dataclass
class CaseResult:
    case: Case
    differences: list[Difference]
    mock: Played
    real: Played


def run_case(case: Case, mock: Target, real: Target, recorder: CallbackRecorder) -> CaseResult:
    """Play ``case`` against both targets at once and compare what they answered."""
    shared = {
        "unknown_agent": f"agent-{uuid.uuid4()}",
        "unknown_run": f"run-{uuid.uuid4()}",
    }
    results: dict[Side, Played] = {}

    def play(target: Target) -> None:
        results[target.side] = _Player(case, target, recorder, shared).play()

    threads = [threading.Thread(target=play, args=(t,), daemon=True) for t in (mock, real)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=CASE_DEADLINE + REQUEST_TIMEOUT + 5)
    for target in (mock, real):
        if target.side not in results:
            results[target.side] = Played(target.side, {"case.error": Observation("hung", True)})
    found = compare_played(case.name, results["mock"], results["real"])
    return CaseResult(case, found, results["mock"], results["real"])


def describe(differences: list[Difference]) -> str:
    lines = [f"{len(differences)} difference(s) between the mock and the real server:"]
    for d in differences:
        lines.append(
            f"  [{d.aspect}] {d.path}: mock {json.dumps(d.mock_value, ensure_ascii=False)[:200]}"
            f" | real {json.dumps(d.real_value, ensure_ascii=False)[:200]}"
        )
    return "\n".join(lines)


# -- the corpus ------------------------------------------------------------------------

QUICK: dict[str, Any] = {"input": "ping", "max_steps": 0}
QUICK_RAW = json.dumps(QUICK).encode()


def post_async(
    body: Any,
    label: str = "post",
    scenario: str | None = None,
    remember: str = "run",
) -> Send:
    return Send(
        label,
        "POST",
        ASYNC_PATH,
        json=body,
        scenario=scenario,
        remember=remember,
        literal=RUN_ECHOES,
    )


def created(body: Any, scenario: str | None = None, **poll: Any) -> tuple[Step, ...]:
    """POST a run and poll it to its end."""
    return (post_async(body, scenario=scenario), Poll(**poll))


def quick(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with ``max_steps: 0`` (no LLM call on the real server) unless it sets one."""
    return body if "max_steps" in body else {**body, "max_steps": 0}


def cancel(
    label: str = "cancel", body: Any = NO_JSON, compare: bool = True, callbacks: bool = False
) -> Send:
    return Send(label, "POST", CANCEL_PATH, json=body, compare=compare, count_callbacks=callbacks)


def get(label: str, path: str, view: str = "body") -> Send:
    return Send(label, "GET", path, view=view, literal=RUN_ECHOES if view == "body" else ())


def fixture_cases() -> list[Case]:
    cases: list[Case] = []
    for name, body in fixtures.valid_requests().items():
        cases.append(
            Case(
                f"valid/{name}",
                created(quick(body)),
                "200, the Run, its end (max_steps 0 unless set)",
            )
        )
    for item in fixtures.invalid_requests():
        cases.append(
            Case(f"invalid/{item.name}", created(quick(item.body)), f"{item.status}: {item.reason}")
        )
    for div in fixtures.divergent_requests():
        cases.append(
            Case(
                f"divergent/{div.name}",
                created(quick(div.body)),
                f"accepted by the {div.accepted_by} reading",
            )
        )
    for bad in fixtures.malformed_agent_ids():
        value = quote(bad.value, safe="")
        cases.append(
            Case(
                f"agent-id/{bad.name}",
                (
                    Send("post", "POST", f"/v1/agents/{value}/messages/async", json=QUICK),
                    Send("cancel", "POST", f"/v1/agents/{value}/messages/cancel"),
                ),
                f"{bad.status}: {bad.reason}",
            )
        )
    for bad in fixtures.malformed_run_ids():
        value = quote(bad.value, safe="")
        cases.append(
            Case(
                f"run-id/{bad.name}",
                tuple(
                    get(f"get{suffix.replace('/', '-')}", f"/v1/runs/{value}{suffix}")
                    for suffix in ("", "/messages", "/steps", "/usage")
                ),
                f"{bad.status}: {bad.reason}",
            )
        )
    return cases


def routing_cases() -> list[Case]:
    def raw(name: str, data: bytes | None, content_type: str | None, why: str) -> Case:
        return Case(
            f"body/{name}",
            (
                Send(
                    "post",
                    "POST",
                    ASYNC_PATH,
                    data=data,
                    content_type=content_type,
                    remember="run",
                    literal=RUN_ECHOES,
                ),
                Poll(),
            ),
            why,
        )

    return [
        Case(
            "unknown/agent",
            (
                Send("post", "POST", "/v1/agents/{unknown_agent}/messages/async", json=QUICK),
                Send("cancel", "POST", "/v1/agents/{unknown_agent}/messages/cancel"),
                get("agent", "/v1/agents/{unknown_agent}"),
            ),
            "404 Agent not found; no run",
        ),
        Case(
            "unknown/run",
            tuple(
                get(f"get{suffix.replace('/', '-')}", "/v1/runs/{unknown_run}" + suffix)
                for suffix in ("", "/messages", "/steps", "/usage")
            ),
            "404 for a well-formed id nobody has",
        ),
        Case(
            "routing/trailing-slash",
            (
                Send(
                    "post-async-slash",
                    "POST",
                    ASYNC_PATH + "/",
                    json=QUICK,
                    headers=("content-type", "location"),
                ),
                Send(
                    "get-run-slash",
                    "GET",
                    "/v1/runs/{unknown_run}/",
                    headers=("content-type", "location"),
                ),
                Send("list-runs-no-slash", "GET", "/v1/runs", headers=("content-type", "location")),
                Send("health-no-slash", "GET", "/v1/health", headers=("content-type", "location")),
            ),
            "307 with an absolute Location to the canonical form",
        ),
        Case(
            "routing/wrong-method",
            (
                Send("get-async", "GET", ASYNC_PATH, headers=("content-type", "allow")),
                Send("put-async", "PUT", ASYNC_PATH, json=QUICK, headers=("content-type", "allow")),
                Send("post-run-cancel", "POST", "/v1/runs/{unknown_run}/cancel"),
            ),
            "405 on the async route; no /v1/runs/{id}/cancel",
        ),
        raw("no-content-type", QUICK_RAW, None, "accepted"),
        raw("json-charset", QUICK_RAW, "application/json; charset=utf-8", "accepted"),
        raw("vendor-json", QUICK_RAW, "application/vnd.api+json", "accepted"),
        raw("text-plain", QUICK_RAW, "text/plain", "422 model_attributes_type"),
        raw("form", b"input=ping&max_steps=0", "application/x-www-form-urlencoded", "422"),
        raw("invalid-json", b'{"input": "ping",', "application/json", "422 json_invalid"),
        raw("array", b'[{"input": "ping"}]', "application/json", "422"),
        raw("string", b'"ping"', "application/json", "422"),
        raw("null", b"null", "application/json", "422 missing"),
        raw("empty", None, "application/json", "422 missing"),
    ]


def lax_cases() -> list[Case]:
    """Values the real server coerces (pydantic lax mode): is the coerced value stored?"""
    bodies: dict[str, dict[str, Any]] = {
        "use-assistant-message-yes": {"use_assistant_message": "yes"},
        "use-assistant-message-zero": {"use_assistant_message": 0},
        "use-assistant-message-one-point-zero": {"use_assistant_message": 1.0},
        "use-assistant-message-off": {"use_assistant_message": "OFF"},
        "max-steps-string": {"max_steps": " 0 "},
        "max-steps-false": {"max_steps": False},
        "max-steps-float": {"max_steps": 0.0},
        "system-alias": {"system": "You are terse."},
    }
    return [
        Case(f"lax/{name}", created(quick({"input": "ping", **extra})), "coerced and accepted")
        for name, extra in bodies.items()
    ]


def run_listings(label_prefix: str = "") -> tuple[Step, ...]:
    return (
        get(f"{label_prefix}listed", "/v1/runs/?agent_id={agent}&limit=50", view="listed-run"),
        get(f"{label_prefix}messages", "/v1/runs/{run}/messages", view="messages"),
        get(f"{label_prefix}steps", "/v1/runs/{run}/steps", view="steps"),
        get(f"{label_prefix}usage", "/v1/runs/{run}/usage"),
    )


def lifecycle_cases() -> list[Case]:
    return [
        Case(
            "lifecycle/complete",
            (
                *created({"input": "Say hello in five words."}),
                *run_listings(),
                # The real server fills total_duration_ns in the listing about 1.2 s later.
                Pause(2.0),
                get("listed-later", "/v1/runs/?agent_id={agent}&limit=50", view="listed-run"),
                get("metrics", "/v1/runs/{run}/metrics"),
                get("messages-desc-1", "/v1/runs/{run}/messages?order=desc&limit=1", "messages"),
                get("listed-active", "/v1/runs/?agent_id={agent}&active=true", "listed-run"),
            ),
            "created -> completed/end_turn; listings",
        ),
        Case(
            "lifecycle/include-assistant-only",
            (
                *created(
                    {
                        "input": "Reply briefly.",
                        "include_return_message_types": ["assistant_message"],
                    }
                ),
                get("messages", "/v1/runs/{run}/messages", view="messages"),
            ),
            "run messages are filtered by include_return_message_types",
        ),
        Case(
            "lifecycle/include-empty-list",
            (
                *created({"input": "Reply briefly.", "include_return_message_types": []}),
                get("messages", "/v1/runs/{run}/messages", view="messages"),
            ),
            "[] means no filter",
        ),
        Case(
            "lifecycle/tool-call",
            (
                *created({"input": "[[tool]] Look up what I said before."}, scenario="tools"),
                *run_listings(),
            ),
            "a tool call and its return, then a reply",
        ),
        Case(
            "lifecycle/tool-loop-max-steps",
            (
                *created(
                    {"input": "[[toolloop]] Keep searching.", "max_steps": 2},
                    scenario="stop:max_steps",
                ),
                *run_listings(),
            ),
            "completed/max_steps",
        ),
        Case(
            "lifecycle/length",
            (
                *created(
                    {"input": "[[length]] Write a long essay."}, scenario="stop:max_tokens_exceeded"
                ),
                *run_listings(),
            ),
            "the LLM stops at its token limit",
        ),
        Case(
            "lifecycle/empty-reply",
            (*created({"input": "[[empty]] Say nothing."}), *run_listings()),
            "an LLM reply with no content and no tool call",
        ),
        Case(
            "lifecycle/max-steps-zero",
            (*created({"input": "ping", "max_steps": 0}), *run_listings()),
            "zero steps: completed/end_turn, nothing saved",
        ),
        Case(
            "lifecycle/llm-error",
            (*created({"input": "[[error500]] Fail please."}, scenario="fail"), *run_listings()),
            "the LLM answers 500: failed/error, metadata.error",
        ),
    ]


def background_cases() -> list[Case]:
    bodies: dict[str, dict[str, Any]] = {
        "messages-empty-list": {"messages": []},
        "input-empty-string": {"input": ""},
        "input-empty-list": {"input": []},
        "content-empty-string": {"messages": [{"role": "user", "content": ""}]},
        "content-empty-list": {"messages": [{"role": "user", "content": []}]},
        "unknown-override-model": {"input": "ping", "override_model": "nope/does-not-exist"},
        "image-url-bad-scheme": {
            "input": [
                {"type": "text", "text": "What is this?"},
                {"type": "image", "source": {"type": "url", "url": "file:///etc/hostname"}},
            ]
        },
    }
    return [
        Case(
            f"background/{name}",
            (*created(body), get("messages", "/v1/runs/{run}/messages", view="messages")),
            "200, then the run fails",
        )
        for name, body in bodies.items()
    ]


def callback_cases() -> list[Case]:
    def with_callback(
        name: str, body: dict[str, Any], why: str, scenario: str | None = None
    ) -> Case:
        # Only URLs on the recorder can be waited for; the others never arrive there.
        arrives = str(body.get("callback_url", "")).startswith("{receiver}")
        steps = (*created(body, scenario=scenario, callback=True),)
        return Case(f"callback/{name}", (*steps, AwaitCallbacks()) if arrives else steps, why)

    return [
        with_callback(
            "completed",
            {"input": "Say hi.", "callback_url": "{receiver}/200"},
            "one POST with {run_id, status, completed_at, metadata.result}",
        ),
        with_callback(
            "completed-filtered",
            {
                "input": "Say hi.",
                "include_return_message_types": ["assistant_message"],
                "callback_url": "{receiver}/200",
            },
            "result.messages follows include_return_message_types",
        ),
        with_callback(
            "failed",
            {"input": "[[error400]] ping", "callback_url": "{receiver}/200"},
            "a failed run's callback",
            scenario="fail",
        ),
        with_callback(
            "receiver-500",
            {"input": "ping", "max_steps": 0, "callback_url": "{receiver}/500"},
            "callback_status_code is whatever came back",
        ),
        with_callback(
            "refused",
            {"input": "ping", "max_steps": 0, "callback_url": CLOSED_PORT_URL},
            "callback_error, no status code",
        ),
        with_callback(
            "not-a-url",
            {"input": "ping", "max_steps": 0, "callback_url": "not a url"},
            "accepted; callback_error names the bad URL",
        ),
    ]


def cancel_cases() -> list[Case]:
    slow = {"input": "[[slow:2]] Take your time.", "callback_url": "{receiver}/200"}
    return [
        Case(
            "cancel/in-flight",
            (
                post_async(slow, scenario="slow"),
                Pause(0.5),
                cancel(body={"run_ids": ["{run}"]}, callbacks=True),
                Poll(settle=5.0, callback=True),
                AwaitCallbacks(),
                get("messages", "/v1/runs/{run}/messages", view="messages"),
            ),
            "cancelled, then (real) overwritten by the finishing LLM call",
        ),
        Case(
            "cancel/no-body",
            (
                post_async({"input": "[[slow:2]] Take your time."}, scenario="slow"),
                Pause(0.5),
                cancel(),
                Poll(settle=4.0),
            ),
            "a bare cancel cancels the agent's active runs",
        ),
        Case(
            "cancel/terminal-run",
            (
                *created(QUICK),
                cancel(body={"run_ids": ["{run}"]}),
                get("after", "/v1/runs/{run}"),
            ),
            "200 {id: cancelled}; the run does not change",
        ),
        Case(
            "cancel/unknown-run-id",
            (cancel(body={"run_ids": ["{unknown_run}"]}),),
            "200 {id: failed}",
        ),
        Case(
            "cancel/malformed-run-id",
            (cancel(body={"run_ids": ["run-123"]}),),
            "200 {id: failed}",
        ),
        Case(
            "cancel/nothing-active",
            (
                cancel("clear", compare=False),
                cancel("no-body"),
                cancel("empty-object", body={}),
                cancel("run-ids-null", body={"run_ids": None}),
                cancel("run-ids-empty", body={"run_ids": []}),
            ),
            "409 CONFLICT when nothing is active",
        ),
    ]


def runs_cases() -> list[Case]:
    return [
        Case(
            "runs/list-queries",
            (
                get("bad-status", "/v1/runs/?statuses=bogus"),
                get("limit-zero", "/v1/runs/?limit=0"),
                get("unknown-agent", "/v1/runs/?agent_id={unknown_agent}"),
                get("malformed-agent", "/v1/runs/?agent_id=foo"),
                get("bad-stop-reason", "/v1/runs/?stop_reason=bogus"),
            ),
            "400 / 422 / empty lists",
        ),
        Case(
            "runs/delete",
            (
                *created(QUICK),
                Send("delete", "DELETE", "/v1/runs/{run}"),
                get("after", "/v1/runs/{run}"),
            ),
            "DELETE answers 500 on the real server and deletes nothing",
        ),
    ]


def corpus() -> list[Case]:
    cases = [
        *fixture_cases(),
        *routing_cases(),
        *lax_cases(),
        *lifecycle_cases(),
        *background_cases(),
        *callback_cases(),
        *cancel_cases(),
        *runs_cases(),
    ]
    names = [c.name for c in cases]
    if len(set(names)) != len(names):
        raise ValueError("corpus case names must be unique")
    return cases


def select(cases: list[Case], patterns: Iterable[str]) -> list[Case]:
    chosen = list(patterns)
    if not chosen:
        return cases
    return [c for c in cases if any(c.name.startswith(p) for p in chosen)]


ProgressHook = Callable[[CaseResult], None]


def run_corpus(
    cases: list[Case],
    mock: Target,
    real: Target,
    recorder: CallbackRecorder,
    progress: ProgressHook | None = None,
) -> list[CaseResult]:
    results: list[CaseResult] = []
    for case in cases:
        result = run_case(case, mock, real, recorder)
        results.append(result)
        if progress is not None:
            progress(result)
    return results
