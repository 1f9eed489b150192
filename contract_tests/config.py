"""What a suite run is asked to do: the target, the budgets and which checks run."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

ProfileName = Literal["quick", "standard", "thorough"]


@dataclass(frozen=True)
class Profile:
    """How hard the suite tries: examples per phase and the default budgets."""

    name: ProfileName
    negative_examples: int
    positive_examples: int
    lifecycle_examples: int
    lifecycle_steps: int
    max_runs: int
    deadline: float


# The coverage phase is the same in every profile; the profiles add random cases on top.
PROFILES: dict[str, Profile] = {
    "quick": Profile("quick", 6, 3, 2, 8, 50, 240.0),
    "standard": Profile("standard", 20, 8, 2, 12, 80, 900.0),
    "thorough": Profile("thorough", 60, 20, 4, 20, 150, 2400.0),
}


@dataclass(frozen=True)
class SuiteConfig:
    """Everything a run of the suite needs; the CLI and the pytest plugin both build one."""

    base_url: str
    token: str | None = None
    agent_id: str | None = None
    agent_id_2: str | None = None
    profile: ProfileName = "quick"
    seed: int | None = None
    max_runs: int | None = None
    rate_limit: float | None = 20.0
    timeout: float = 30.0
    max_response_bytes: int = 4 * 1024 * 1024
    deadline: float | None = None
    run_deadline: float = 60.0
    poll_interval: float = 0.25
    cancel_settle: float = 3.0
    checks: tuple[str, ...] = ()
    skip_checks: tuple[str, ...] = ()
    negative_only: bool = False
    cancel_at_end: bool = True
    callbacks: bool = True
    latency_budget: float | None = 10.0
    retries_on_429: int = 3
    extra_headers: dict[str, str] = field(default_factory=dict)
    custom_profile: Profile | None = None
    use_fixtures: bool = True  # also send the project's labelled example bodies (fixtures)

    @property
    def settings(self) -> Profile:
        """The profile in force: ``custom_profile`` when given (tests), else the named one."""
        return self.custom_profile or PROFILES[self.profile]

    @property
    def run_budget(self) -> int:
        return self.settings.max_runs if self.max_runs is None else self.max_runs

    @property
    def overall_deadline(self) -> float:
        return self.settings.deadline if self.deadline is None else self.deadline

    def with_seed(self, seed: int) -> SuiteConfig:
        return replace(self, seed=seed)
