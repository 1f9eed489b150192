"""What the engine tells its reporters. The engine emits these; it never prints."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Violation:
    """A departure from a documentation fact or a rule both readings share, with what is
    needed to reproduce it."""

    check: str
    purpose: str
    message: str
    cause: str
    rule: str
    rule_id: str
    source: str
    phase: str
    case: str
    seed: int
    request: dict[str, Any] | None = None
    response: dict[str, Any] | None = None
    excerpt: Any = None
    curl: str | None = None
    history: tuple[str, ...] = ()
    script: str | None = None  # a lifecycle violation's whole sequence, as a shell script

    @property
    def key(self) -> tuple[str, str]:
        return (self.check, self.cause)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Divergence:
    """Where the target does what only one reading of the contract predicts.

    Either a rule whose only source is the real server (``rule_id`` set: the target answered
    otherwise), or a request the two readings judge differently (``verdict`` set: which
    reading the target followed is ``sides_with``). Never a violation.
    """

    case: str
    why: str
    source: str
    check: str = ""
    rule_id: str = ""
    rule: str = ""
    message: str = ""
    verdict: str = ""
    documented: tuple[str, ...] = ()
    server: tuple[str, ...] = ()
    observed_status: int | None = None
    sides_with: str = ""
    curl: str | None = None

    @property
    def key(self) -> str:
        return f"{self.rule_id}|{self.message}" if self.rule_id else self.case

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Finding:
    """Something worth knowing that is no verdict on the contract (a slow answer)."""

    kind: str
    message: str
    case: str
    curl: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SuiteStarted:
    base_url: str
    profile: str
    seed: int
    checks: tuple[str, ...]
    max_runs: int


@dataclass(frozen=True)
class PhaseStarted:
    """A phase begins: the ``number``-th of the ``of`` phases this run has (0: not said)."""

    phase: str
    description: str
    number: int = 0
    of: int = 0


@dataclass(frozen=True)
class CaseFinished:
    """One answer judged: ``mark`` is ``.`` (as both readings expect), ``x`` (a violation,
    reported below) or ``~`` (a divergence)."""

    phase: str
    label: str
    status: int | None
    mark: str

    @property
    def ok(self) -> bool:
        return self.mark != "x"


@dataclass(frozen=True)
class ViolationFound:
    violation: Violation


@dataclass(frozen=True)
class DivergenceFound:
    divergence: Divergence


@dataclass(frozen=True)
class Notice:
    message: str
    level: str = "info"


@dataclass(frozen=True)
class PhaseFinished:
    phase: str
    cases: int
    seconds: float


@dataclass
class SuiteResult:
    base_url: str
    profile: str
    seed: int
    checks: tuple[str, ...]
    violations: list[Violation] = field(default_factory=list)
    divergences: list[Divergence] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # check -> why it did not run
    routes: dict[str, bool] = field(default_factory=dict)  # optional route -> present
    coverage: list[dict[str, Any]] = field(default_factory=list)
    replay: list[list[str]] = field(default_factory=list)  # options that rerun the suite
    cases: int = 0
    requests: int = 0
    runs_created: int = 0
    runs_cancelled: int = 0
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    interrupted: bool = False  # stopped by Ctrl-C: what it found so far, after clean-up

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 130
        if self.errors:
            return 2
        return 1 if self.violations else 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "profile": self.profile,
            "seed": self.seed,
            "checks": list(self.checks),
            "exit_code": self.exit_code,
            "conforming": self.exit_code == 0,
            "violations": [v.as_dict() for v in self.violations],
            "divergences": [d.as_dict() for d in self.divergences],
            "findings": [f.as_dict() for f in self.findings],
            "notices": self.notices,
            "errors": self.errors,
            "skipped": self.skipped,
            "routes": self.routes,
            "coverage": self.coverage,
            "replay": self.replay,
            "cases": self.cases,
            "requests": self.requests,
            "runs_created": self.runs_created,
            "runs_cancelled": self.runs_cancelled,
            "seconds": round(self.seconds, 3),
            "phases": {k: round(v, 3) for k, v in self.phases.items()},
            "interrupted": self.interrupted,
        }


@dataclass(frozen=True)
class SuiteFinished:
    result: SuiteResult


Event = (
    SuiteStarted
    | PhaseStarted
    | CaseFinished
    | ViolationFound
    | DivergenceFound
    | Notice
    | PhaseFinished
    | SuiteFinished
)
Listener = Callable[[Event], None]
