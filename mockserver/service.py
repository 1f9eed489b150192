"""The mock's domain: agents and runs, kept in a store and moved along by the lifecycle.

Plain Python, no HTTP: the routes translate requests into these calls and the answers
into responses.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, wait
from dataclasses import dataclass
from typing import Any

from letta_contract_kit.mockserver.callbacks import CallbackDispatcher, CallbackOutcome
from letta_contract_kit.mockserver.clock import Clock, VirtualClock, WallClock, rfc3339
from letta_contract_kit.mockserver.config import MockConfig
from letta_contract_kit.mockserver.conversation import (
    MODEL,
    ORGANIZATION_ID,
    new_id,
    shaped,
    tools_used,
    visible,
)
from letta_contract_kit.mockserver.lifecycle import RunLifecycle
from letta_contract_kit.mockserver.profiles import background_error, takes_no_step
from letta_contract_kit.mockserver.records import RunRecord
from letta_contract_kit.mockserver.scenarios import Scenario, parse_scenario, parse_scenarios
from letta_contract_kit.mockserver.store.base import Store, StoreFailed
from letta_contract_kit.mockserver.store.memory import MemoryStore
from letta_contract_kit.mockserver.store.sqlite import SqliteStore
from letta_contract_kit.schemas.contract import (
    REQUEST_CONFIG_FIELDS,
    RUN_STATUS,
    STOP_REASON,
    defaults,
    initial_values,
)

log = logging.getLogger("letta_contract_kit.mockserver")

QUEUE_KEY = "scenario_queue"
CLOCK_KEY = "virtual_now"
SWEEP_SECONDS = 0.02
FAILED_IN_BACKGROUND = "fail"
ENDS_WITHOUT_STEP = "succeed"
# Letta 0.16.8 records a run's duration about 1.2 s after the run ends; listings made
# before that show null.
LISTED_DURATION_DELAY = 1.2
HEALTH_KEY = "health-probe"


def open_store(config: MockConfig) -> Store:
    bounds = {"max_runs": config.max_runs, "max_bytes": config.max_store_bytes}
    if config.store == "sqlite":
        return SqliteStore(str(config.sqlite_path), **bounds)
    if config.store == "lmdb":
        from letta_contract_kit.mockserver.store.lmdb import LmdbStore  # the [lmdb] extra

        return LmdbStore(str(config.lmdb_path), max_body_bytes=config.max_body_bytes, **bounds)
    if config.store == "redis":
        from letta_contract_kit.mockserver.store.redis import RedisStore  # the [redis] extra

        return RedisStore(str(config.redis_url), config.redis_prefix, **bounds)
    return MemoryStore(**bounds)


@dataclass(frozen=True)
class RunQuery:
    """Filters and paging of GET /v1/runs/ (already checked by the route)."""

    agent_id: str | None = None
    conversation_id: str | None = None
    statuses: tuple[str, ...] | None = None
    background: bool | None = None
    stop_reason: str | None = None
    limit: int = 100
    descending: bool = True
    before: str | None = None
    after: str | None = None


def page(
    items: list[Any], key: Callable[[Any], str], before: str | None, after: str | None, limit: int
) -> list[Any] | None:
    """``limit`` items strictly between the cursors (ids); None when a cursor is unknown."""
    ids = [key(item) for item in items]
    start, stop = 0, len(items)
    if after is not None:
        if after not in ids:
            return None
        start = ids.index(after) + 1
    if before is not None:
        if before not in ids:
            return None
        stop = ids.index(before)
    if start >= stop:
        return []
    if before is not None and after is None:
        return items[max(start, stop - limit) : stop]
    return items[start:stop][:limit]


class MockService:
    def __init__(self, config: MockConfig, store: Store | None = None) -> None:
        self.config = config
        self.store = store if store is not None else open_store(config)
        self.clock: Clock
        if config.clock == "virtual":
            self.clock = VirtualClock(
                read=lambda: self.store.get_setting(CLOCK_KEY),
                write=lambda value: self.store.set_setting(CLOCK_KEY, value),
            )
        else:
            self.clock = WallClock()
        self.quirks = config.quirk_set
        self.lifecycle = RunLifecycle(
            config.phase_timings, per_poll=config.clock == "per-poll", quirks=self.quirks
        )
        self.callbacks = CallbackDispatcher(
            config.callback_timeout,
            config.callback_hosts,
            output=self.lifecycle.output,
            stamp=self.lifecycle.stamp_end,
            quirks=self.quirks,
        )
        self.default_scenario = parse_scenario(config.scenario)
        self._request_defaults = defaults("letta-async-request")
        self._agent_defaults = defaults("agent-state")
        self._stop = threading.Event()
        # What else is forgotten on reset (the journal, the replay's place in its cassette).
        self._on_reset: list[Callable[[], None]] = []
        self._sweeper: threading.Thread | None = None
        self._last_sweep = 0.0
        # Why the store last failed to write (a full disk), until a write succeeds again, and
        # whether it was unreachable (a server that may come back: health then tries again).
        self.store_problem: str | None = None
        self.store_unreachable = False
        self.seed_agents()

    # -- agents -------------------------------------------------------------------------

    def seed_agents(self) -> None:
        for agent_id in self.config.agents:
            if self.store.get_agent(agent_id) is None:
                self.store.add_agent(self._agent(agent_id, {}))

    def _agent(self, agent_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return shaped(
            "agent-state",
            {
                "id": agent_id,
                "name": body.get("name") or f"mock-agent-{agent_id[6:14]}",
                "agent_type": body.get("agent_type") or self._agent_defaults["agent_type"],
                "created_at": rfc3339(self.clock.now()),
                "description": body.get("description"),
                "system": body.get("system") or "You are a helpful agent (letta-mock).",
                "tags": list(body.get("tags") or []),
                "metadata": body.get("metadata"),
                "model": body.get("model") or MODEL,
                "embedding": body.get("embedding"),
            },
        )

    def create_agent(self, body: dict[str, Any]) -> dict[str, Any]:
        agent = self._agent(new_id("agent"), body)
        self.store.add_agent(agent)
        return agent

    def get_agent(self, agent_id: str) -> dict[str, Any] | None:
        """The agent; with ``auto_agents`` an unknown (well-formed) id is created on first use."""
        found = self.store.get_agent(agent_id)
        if found is None and self.config.auto_agents:
            found = self._agent(agent_id, {})
            self.store.add_agent(found)
        return found

    # -- scenarios ----------------------------------------------------------------------

    def queue_scenarios(self, texts: list[str]) -> list[str]:
        parse_scenarios(texts)
        with self.store.transaction():
            queue = list(self.store.get_setting(QUEUE_KEY) or [])
            queue.extend(texts)
            self.store.set_setting(QUEUE_KEY, queue)
            return queue

    def queued_scenarios(self) -> list[str]:
        return list(self.store.get_setting(QUEUE_KEY) or [])

    def clear_scenarios(self) -> None:
        self.store.set_setting(QUEUE_KEY, [])

    def _next_scenario(self) -> Scenario:
        queue = list(self.store.get_setting(QUEUE_KEY) or [])
        if not queue:
            return self.default_scenario
        self.store.set_setting(QUEUE_KEY, queue[1:])
        return parse_scenario(queue[0])

    # -- runs ---------------------------------------------------------------------------

    def request_config(self, body: dict[str, Any]) -> dict[str, Any]:
        return {
            name: body[name] if name in body else self._request_defaults.get(name)
            for name in REQUEST_CONFIG_FIELDS
        }

    def create_run(
        self,
        agent_id: str,
        body: dict[str, Any],
        scenario: Scenario | None = None,
        agent: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A new run of ``agent_id`` (``agent``: the agent, when the caller has read it)."""
        # What needs no lock is done before the transaction, which other requests (and, with a
        # shared store, other processes) wait for.
        if agent is None:
            agent = self.store.get_agent(agent_id) or {}
        error = self._background_error(agent_id, agent, body)
        no_step = error is None and takes_no_step(body, self.quirks)
        now = self.clock.now()
        run = shaped(
            "run",
            {
                "id": new_id("run"),
                "status": RUN_STATUS.created,
                "created_at": rfc3339(now),
                "agent_id": agent_id,
                "background": True,
                "metadata": initial_values("run-metadata"),
                "request_config": self.request_config(body),
                "callback_url": body.get("callback_url"),
            },
        )
        with self.store.transaction():
            if error is not None:  # the run will fail whatever the scenario says
                chosen = parse_scenario(FAILED_IN_BACKGROUND)
            elif no_step:  # no LLM call, so nothing a scenario could decide
                chosen = parse_scenario(ENDS_WITHOUT_STEP)
            else:
                chosen = scenario if scenario is not None else self._next_scenario()
            record = self.lifecycle.new_record(run, body, chosen, now)
            record.error = error
            record.no_step = no_step
            self.store.add_run(record)
        self.store_problem = None
        return dict(record.run)

    def _background_error(
        self, agent_id: str, agent: dict[str, Any], body: dict[str, Any]
    ) -> str | None:
        """What a run of the agent will fail with once it runs (see ``profiles``); None:
        nothing."""
        known_models = {MODEL, str(agent.get("model") or MODEL)}
        return background_error(
            body,
            self.quirks,
            known_models,
            self.config.image_hosts,
            awaits_approval=lambda: self._awaits_approval(agent_id),
        )

    def _awaits_approval(self, agent_id: str) -> bool:
        """Whether the agent's last run to end stopped to ask for an approval (each run as
        of now: a stored one may not have been brought up to date since its plan ended it)."""
        now = self.clock.now()
        records = self.store.runs(agent_id)
        for record in records:  # copies, read only: the sweep and the reads save the runs
            self.lifecycle.advance(record, now)
        ended = [r for r in records if r.terminal]
        return bool(ended) and ended[-1].run["stop_reason"] == STOP_REASON.requires_approval

    def _refresh(self, record: RunRecord, polled: bool = False) -> bool:
        """Move ``record`` along and save it when it changed; True when it has just ended.

        The caller sends the callback of a run that ended (``_send_callbacks``) once the
        transaction that stored the end has committed: of the processes that share a store,
        the one whose transaction stored the end first sends it, and one whose commit failed
        sends nothing.
        """
        before = (record.status, record.phase, record.polls_in_phase)
        ended = self.lifecycle.advance(record, self.clock.now(), polled=polled)
        if (record.status, record.phase, record.polls_in_phase) != before:
            self.store.save_run(record)
        return ended

    def _send_callbacks(self, ended: list[RunRecord]) -> list[Future[None]]:
        return [f for f in (self._after_end(record) for record in ended) if f is not None]

    def _after_end(self, record: RunRecord) -> Future[None] | None:
        if record.watched:
            return self.callbacks.dispatch(record, self.clock.now, self._record_callback)
        return None

    def _record_callback(self, run_id: str, outcome: CallbackOutcome) -> None:
        with self.store.transaction():
            record = self.store.get_run(run_id)
            if record is None:
                return
            record.run["callback_sent_at"] = outcome.sent_at
            record.run["callback_status_code"] = outcome.status_code
            record.run["callback_error"] = outcome.error
            self.store.save_run(record)

    def get_record(self, run_id: str, polled: bool = False) -> RunRecord | None:
        found = self.store.get_run(run_id)
        if found is None or found.settled:  # nothing will move it: no need for the lock
            return found
        with self.store.transaction():
            record = self.store.get_run(run_id)
            ended = record is not None and self._refresh(record, polled=polled)
        if record is not None and ended:
            self._send_callbacks([record])
        return record

    def get_run(self, run_id: str, polled: bool = False) -> dict[str, Any] | None:
        record = self.get_record(run_id, polled=polled)
        return None if record is None else record.run

    def list_runs(self, query: RunQuery) -> list[dict[str, Any]] | None:
        with self.store.transaction():
            records = self.store.runs(query.agent_id)
            ended = [record for record in records if self._refresh(record)]
        self._send_callbacks(ended)
        chosen = [
            r
            for r in records
            if (query.statuses is None or r.status in query.statuses)
            and (
                query.conversation_id is None
                or r.run.get("conversation_id") == query.conversation_id
            )
            and (query.background is None or bool(r.run["background"]) == query.background)
            and (query.stop_reason is None or r.run["stop_reason"] == query.stop_reason)
        ]
        chosen.sort(key=lambda r: (r.created, r.seq), reverse=query.descending)
        paged = page(chosen, lambda r: r.id, query.before, query.after, query.limit)
        now = self.clock.now()
        return None if paged is None else [self._listed(r, now) for r in paged]

    @staticmethod
    def _listed(record: RunRecord, now: float) -> dict[str, Any]:
        """A run as a listing shows it: where the run itself leaves its duration out (the
        ``duration-listing-only`` quirk), with the duration from a moment after its end."""
        if record.run.get("total_duration_ns") is not None or record.finished is None:
            return record.run
        if now < record.finished + LISTED_DURATION_DELAY:
            return record.run
        return {**record.run, "total_duration_ns": record.duration_ns}

    def run_messages(
        self,
        record: RunRecord,
        before: str | None,
        after: str | None,
        limit: int,
        descending: bool,
    ) -> list[dict[str, Any]] | None:
        include = (record.run.get("request_config") or {}).get("include_return_message_types")
        items = visible(self.lifecycle.output(record).messages, include)
        if descending:
            items.reverse()
        return page(items, lambda m: str(m["id"]), before, after, limit)

    def run_steps(
        self,
        record: RunRecord,
        before: str | None,
        after: str | None,
        limit: int,
        descending: bool,
    ) -> list[dict[str, Any]] | None:
        steps = self.lifecycle.output(record).steps
        items = list(reversed(steps)) if descending else steps
        return page(items, lambda s: str(s["id"]), before, after, limit)

    def run_usage(self, record: RunRecord) -> dict[str, Any]:
        usage = self.lifecycle.output(record).usage
        if usage:
            return usage
        return shaped(
            "usage-statistics", {"completion_tokens": 0, "prompt_tokens": 0, "total_tokens": 0}
        )

    def run_metrics(self, record: RunRecord) -> dict[str, Any]:
        """Timing and counts of the run; ``run_ns`` once it has ended."""
        output = self.lifecycle.output(record)
        return shaped(
            "run-metrics",
            {
                "id": record.id,
                "organization_id": ORGANIZATION_ID,
                "agent_id": record.agent_id,
                "run_start_ns": round(record.created * 1e9),
                "run_ns": record.duration_ns if record.terminal else None,
                "num_steps": len(output.steps),
                "tools_used": tools_used(output.messages) or None,
            },
        )

    def cancel(self, agent_id: str, run_ids: list[str] | None) -> dict[str, str] | None:
        """Cancel runs; None when no ids were given and the agent has no active run."""
        ended: list[RunRecord] = []  # by the clock, before the cancel reached them
        cancelled: list[RunRecord] = []
        answer: dict[str, str] = {}
        with self.store.transaction():
            if run_ids:
                targets: list[str] = list(run_ids)
            else:
                records = self.store.runs(agent_id)
                ended = [record for record in records if self._refresh(record)]
                targets = [r.id for r in reversed(records) if not r.terminal]
            for run_id in targets:
                target = self.store.get_run(run_id)
                if target is None:
                    answer[run_id] = RUN_STATUS.failed
                    continue
                if self._refresh(target):
                    ended.append(target)
                if self.lifecycle.cancel(target, self.clock.now()):
                    self.store.save_run(target)
                    cancelled.append(target)
                answer[run_id] = RUN_STATUS.cancelled
        self._send_callbacks(ended)
        if not targets:
            return None
        sending = self._send_callbacks(cancelled)
        if sending and self.quirks.cancel_answers_after_callback:
            wait(sending, timeout=self.config.callback_timeout + 1)
        return answer

    # -- time -----------------------------------------------------------------------------

    def advance_clock(self, seconds: float) -> float:
        if not isinstance(self.clock, VirtualClock):
            raise TypeError("the clock is not virtual: start the mock with clock='virtual'")
        with self.store.transaction():
            moved = self.clock.advance(seconds)
        self.sweep()
        return moved

    def sweep(self) -> int:
        """Bring the runs whose plan has ended them up to date, at least those a callback
        waits on (``Store.sweep_due``), and send their callbacks; returns how many ended."""
        if not self.store.has_due(self.clock.now()):  # most sweeps: nothing decoded, no wait
            return 0
        with self.store.transaction():
            ended = [
                record for record in self.store.sweep_due(self.clock.now()) if self._refresh(record)
            ]
        self._send_callbacks(ended)
        return len(ended)

    def start(self) -> None:
        """Start the background sweep (wall clock only): runs end even when nobody looks."""
        if self.config.clock != "wall" or self._sweeper is not None:
            return
        self._sweeper = threading.Thread(
            target=self._sweep_loop, name="letta-mock-sweep", daemon=True
        )
        self._sweeper.start()

    def sweep_if_due(self) -> None:
        """Sweep when the last sweep is ``SWEEP_SECONDS`` old (wall clock only).

        Requests call this as they finish, so under load the sweep runs in a request thread
        between requests instead of beside them; the sweep thread covers quiet times.
        """
        if self._sweeper is None:
            return
        now = time.monotonic()
        if now - self._last_sweep < SWEEP_SECONDS:
            return
        self._last_sweep = now
        try:
            self.sweep()
        except StoreFailed as exc:  # said once; the runs move on when the store writes again
            self.note_store_failure(exc)
        except Exception:  # the sweep must outlive one bad run
            log.exception("letta-mock: the background sweep failed")

    def note_store_failure(self, exc: StoreFailed) -> None:
        if self.store_problem != str(exc):
            log.error("letta-mock: %s", exc)
        self.store_problem = str(exc)
        self.store_unreachable = exc.status == 503

    def store_health(self) -> str | None:
        """Why the store cannot be used (None: it can): a write that failed, from then until
        a run is stored again, or a small write tried now on a store with a file or a server
        (again and again while the server is unreachable, so health recovers with it)."""
        if self.config.store != "memory" and (self.store_problem is None or self.store_unreachable):
            try:
                self.store.set_setting(HEALTH_KEY, time.time())
            except StoreFailed as exc:
                self.note_store_failure(exc)
            else:
                if self.store_unreachable:
                    log.warning("letta-mock: the store is reachable again")
                self.store_problem, self.store_unreachable = None, False
        return self.store_problem

    def _sweep_loop(self) -> None:
        while not self._stop.wait(SWEEP_SECONDS):
            self.sweep_if_due()

    def reset(self) -> None:
        """Forget runs, agents created since start and queued scenarios (time keeps going),
        then whatever was registered with ``on_reset``."""
        self.callbacks.drain(timeout=self.config.callback_timeout + 1)
        with self.store.transaction():
            self.store.clear()
            self.seed_agents()
        for forget in self._on_reset:
            forget()

    def on_reset(self, forget: Callable[[], None]) -> None:
        """Call ``forget`` on every reset, after the runs are forgotten."""
        self._on_reset.append(forget)

    def close(self) -> None:
        self._stop.set()
        if self._sweeper is not None:
            self._sweeper.join(timeout=1)
        self.callbacks.close()
        self.store.close()
