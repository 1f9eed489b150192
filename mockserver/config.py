"""Everything the mock can be told, with its defaults, and reading it from a file."""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

from letta_contract_kit.mockserver.cassettes import problem as cassette_problem
from letta_contract_kit.mockserver.compat import PROFILE_QUIRKS, Quirks, resolve, unknown_quirks
from letta_contract_kit.mockserver.extras import missing
from letta_contract_kit.mockserver.faults import FaultError, parse_fault
from letta_contract_kit.mockserver.scenarios import ScenarioError, parse_scenario
from letta_contract_kit.mockserver.store.base import MAX_STORE_BYTES
from letta_contract_kit.schemas.contract import AGENT_ID

ClockMode = Literal["wall", "virtual", "per-poll"]
StoreKind = Literal["memory", "sqlite", "lmdb", "redis"]
ServerKind = Literal["granian", "waitress"]
Profile = Literal["strict", "letta-0.16.8"]
RouteSet = Literal["all", "minimal"]
LogFormat = Literal["text", "json"]
ReplayMiss = Literal["mock", "404"]
ROUTE_SETS: tuple[RouteSet, ...] = ("all", "minimal")

CLOCK_MODES: tuple[ClockMode, ...] = ("wall", "virtual", "per-poll")
STORE_KINDS: tuple[StoreKind, ...] = ("memory", "sqlite", "lmdb", "redis")
# Stores in a file of this machine, and the stores that several processes can share (the only
# ones ``workers`` > 1 can use; Redis also replicas on several machines).
FILE_STORES: tuple[StoreKind, ...] = ("sqlite", "lmdb")
SHARED_STORES: tuple[StoreKind, ...] = (*FILE_STORES, "redis")
SERVER_KINDS: tuple[ServerKind, ...] = ("granian", "waitress")
# Threads that run the app, when not given: Granian parses HTTP outside Python, so a few
# threads keep the interpreter busy; waitress parses HTTP in its threads too.
DEFAULT_THREADS: dict[ServerKind, int] = {"granian": 2, "waitress": 8}
PROFILES: tuple[Profile, ...] = ("strict", "letta-0.16.8")
LOOPBACK_HOSTS: tuple[str, ...] = ("loopback", "localhost")
# The CLI's port when none is given; MockServer and the pytest fixture pick a free one.
DEFAULT_PORT = 8283
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")
# Who answers a request a replayed cassette does not cover: the mock, or a JSON 404.
REPLAY_MISSES: tuple[ReplayMiss, ...] = ("mock", "404")


@dataclass(frozen=True)
class Timings:
    """How long a run stays in each phase.

    With the wall or virtual clock the numbers are seconds; with the per-poll clock each
    phase lasts that many polls of the run (rounded up, at least one).
    """

    queued: float = 0.05
    running: float = 0.5
    slow_running: float = 5.0

    @classmethod
    def per_poll(cls) -> Timings:
        return cls(queued=1, running=1, slow_running=5)


@dataclass
class MockConfig:
    """The mock's settings. Every field has a default; pass the ones you need by keyword."""

    host: str = "127.0.0.1"
    port: int | None = None  # None: DEFAULT_PORT for the CLI, a free port in-process; 0: free
    agents: list[str] = field(default_factory=list)
    auto_agents: bool = False
    clock: ClockMode = "wall"
    timings: Timings | None = None
    scenario: str = "succeed"
    profile: Profile = "strict"
    quirks: list[str] = field(default_factory=list)
    no_quirks: list[str] = field(default_factory=list)
    image_hosts: list[str] = field(default_factory=list)
    token: str | None = None
    admin_token: str | None = None
    max_body_bytes: int = 1_048_576
    store: StoreKind = "memory"
    sqlite_path: str | None = None
    lmdb_path: str | None = None
    redis_url: str | None = None  # e.g. redis://host:6379/0
    redis_prefix: str = "letta-mock:"  # of every key, so that several mocks share one Redis
    max_runs: int = 10_000
    # Bytes of encoded runs (each keeps its request body) the store keeps, whatever the count.
    max_store_bytes: int = MAX_STORE_BYTES
    callback_timeout: float = 5.0
    callback_hosts: list[str] = field(default_factory=lambda: list(LOOPBACK_HOSTS))
    fault_rate: float = 0.0
    faults: list[str] = field(default_factory=lambda: ["500"])
    fault_seed: int | None = None
    journal_size: int = 1_000
    journal_body_bytes: int = 4096
    routes: RouteSet = "all"
    server_version: str = "0.16.8"
    server: ServerKind = "waitress"
    threads: int | None = None
    workers: int = 1
    # Seconds a connection may send nothing, and a request may take to arrive whole.
    idle_timeout: float = 10.0
    # Open connections the waitress server accepts (fewer if the open-file limit is lower).
    max_connections: int = 1_000
    # One line per request on stderr (method, path, status, milliseconds, run id), as text or JSON.
    log_requests: bool = False
    log_format: LogFormat = "text"
    # A cassette of ``letta-contract proxy --record`` whose answers come first (replay.py).
    replay: str | None = None
    replay_miss: ReplayMiss = "mock"

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise ValueError("invalid mock configuration: " + "; ".join(problems))

    def threads_for(self, server: ServerKind) -> int:
        """The app's worker threads under ``server``: as given, else that server's default."""
        return self.threads if self.threads is not None else DEFAULT_THREADS[server]

    @property
    def phase_timings(self) -> Timings:
        """The timings in force: the ones given, else the defaults for the clock mode."""
        if self.timings is not None:
            return self.timings
        return Timings.per_poll() if self.clock == "per-poll" else Timings()

    @property
    def quirk_set(self) -> Quirks:
        """The quirks in force: the profile's, plus ``quirks``, minus ``no_quirks``."""
        return resolve(self.profile, self.quirks, self.no_quirks)

    def problems(self) -> list[str]:
        found: list[str] = []
        if self.clock not in CLOCK_MODES:
            found.append(f"clock must be one of {', '.join(CLOCK_MODES)}, not {self.clock!r}")
        if self.server not in SERVER_KINDS:
            found.append(f"server must be one of {', '.join(SERVER_KINDS)}, not {self.server!r}")
        if self.store not in STORE_KINDS:
            found.append(f"store must be one of {', '.join(STORE_KINDS)}, not {self.store!r}")
        if self.routes not in ROUTE_SETS:
            found.append(f"routes must be one of {', '.join(ROUTE_SETS)}, not {self.routes!r}")
        if self.port is not None and not (
            isinstance(self.port, int)
            and not isinstance(self.port, bool)
            and 0 <= self.port <= 65535
        ):
            found.append(
                f"port must be a number from 0 to 65535 (0 picks a free one), not {self.port!r}"
            )
        if self.log_format not in LOG_FORMATS:
            found.append(
                f"log_format must be one of {', '.join(LOG_FORMATS)}, not {self.log_format!r}"
            )
        if self.profile not in PROFILES:
            found.append(f"profile must be one of {', '.join(PROFILES)}, not {self.profile!r}")
        unknown = unknown_quirks([*self.quirks, *self.no_quirks])
        if unknown:
            found.append(
                f"unknown quirks {', '.join(unknown)} (letta-mock --list-quirks names them all)"
            )
        for what, wanted in (
            ("server 'granian'", self.server == "granian"),
            ("store 'lmdb'", self.store == "lmdb"),
            ("store 'redis'", self.store == "redis"),
        ):
            why = missing(what) if wanted else None
            if why:
                found.append(why)
        if self.store == "sqlite" and not self.sqlite_path:
            found.append("store 'sqlite' needs sqlite_path")
        if self.store == "lmdb" and not self.lmdb_path:
            found.append("store 'lmdb' needs lmdb_path")
        if self.store == "redis" and not self.redis_url:
            found.append("store 'redis' needs redis_url (e.g. redis://127.0.0.1:6379/0)")
        if self.workers > 1 and self.server != "granian":
            found.append("workers > 1 needs server 'granian' (waitress serves from one process)")
        if self.workers > 1 and self.store not in SHARED_STORES:
            found.append(
                f"workers > 1 needs a store the processes share ({' or '.join(SHARED_STORES)}), "
                f"not {self.store!r}"
            )
        for agent in self.agents:
            if not AGENT_ID.match(agent):
                found.append(f"agent id {agent!r} is not 'agent-<lower-case uuid4>'")
        try:
            parse_scenario(self.scenario)
        except ScenarioError as exc:
            found.append(f"scenario: {exc}")
        if not 0.0 <= self.fault_rate <= 1.0:
            found.append(f"fault_rate must be between 0 and 1, not {self.fault_rate}")
        for fault in self.faults:
            try:
                parse_fault(fault)
            except FaultError as exc:
                found.append(f"faults: {exc}")
        for name in (
            "max_body_bytes",
            "max_runs",
            "max_store_bytes",
            "journal_size",
            "journal_body_bytes",
            "threads",
            "workers",
            "max_connections",
        ):
            value = getattr(self, name)
            if value is not None and value < 1:
                found.append(f"{name} must be at least 1")
        if self.max_store_bytes < 2 * self.max_body_bytes:
            found.append(
                f"max_store_bytes ({self.max_store_bytes}) must be at least twice "
                f"max_body_bytes ({self.max_body_bytes}), room for a run of the largest body"
            )
        if self.callback_timeout <= 0:
            found.append("callback_timeout must be positive")
        if self.idle_timeout <= 0:
            found.append("idle_timeout must be positive")
        if self.replay_miss not in REPLAY_MISSES:
            found.append(
                f"replay_miss must be one of {', '.join(REPLAY_MISSES)}, not {self.replay_miss!r}"
            )
        if self.replay is not None:
            if self.workers > 1:
                found.append(
                    "replay needs workers 1: each worker process would keep its own place "
                    "in the cassette"
                )
            why = cassette_problem(self.replay)
            if why:
                found.append(f"replay: {why}")
        timings = self.phase_timings
        if min(timings.queued, timings.running, timings.slow_running) < 0:
            found.append("timings must not be negative")
        return found


if set(PROFILES) != set(PROFILE_QUIRKS):
    raise AssertionError("config.PROFILES and compat.PROFILE_QUIRKS name different profiles")


def _timing_changes(value: Any) -> dict[str, float]:
    if not isinstance(value, dict):
        raise ValueError("timings must be a table/object with queued, running, slow_running")
    known = {f.name for f in fields(Timings)}
    unknown = set(value) - known
    if unknown:
        raise ValueError(f"unknown timings keys: {', '.join(sorted(unknown))}")
    return {k: float(v) for k, v in value.items()}


def config_from_mapping(data: dict[str, Any], base: MockConfig | None = None) -> MockConfig:
    """A config from a mapping of field names (as in a config file), over ``base``.

    ``timings`` may name only some phases; the others keep the defaults of the clock mode.
    """
    known = {f.name for f in fields(MockConfig)}
    normalised = {key.replace("-", "_"): value for key, value in data.items()}
    if "compat" in normalised:  # ``compat = "letta-0.16.8"`` names the profile too
        compat = normalised.pop("compat")
        if normalised.get("profile", compat) != compat:
            raise ValueError(f"profile {normalised['profile']!r} and compat {compat!r} disagree")
        normalised["profile"] = compat
    unknown = set(normalised) - known
    if unknown:
        raise ValueError(f"unknown configuration keys: {', '.join(sorted(unknown))}")
    timings = normalised.pop("timings", None)
    config = replace(base or MockConfig(), **normalised)
    if isinstance(timings, Timings):
        return replace(config, timings=timings)
    if timings is not None:
        return replace(config, timings=replace(config.phase_timings, **_timing_changes(timings)))
    return config


def load_config_file(path: str | Path, base: MockConfig | None = None) -> MockConfig:
    """Read a JSON (``.json``) or TOML (anything else) config file."""
    file = Path(path)
    text = file.read_text("utf-8")
    if file.suffix.lower() == ".json":
        data = json.loads(text)
    else:
        data = tomllib.loads(text)
        data = data.get("letta-mock", data.get("letta_mock", data))
    if not isinstance(data, dict):
        raise ValueError(f"{file}: the configuration must be an object/table")
    return config_from_mapping(data, base)
