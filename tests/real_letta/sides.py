"""The two servers the differential test compares, and the callback recorder they share.

The mock runs in-process on loopback with the per-poll clock (each GET of a run moves it one
phase, so its runs end deterministically) in the profile named by ``LETTA_MOCK_PROFILE``;
without it, the ``letta-0.16.8`` compatibility profile when the mock has one, else the
mock's default profile. ``LETTA_MOCK_QUIRKS`` and ``LETTA_MOCK_NO_QUIRKS`` (comma-separated
quirk names) switch single quirks on or off on top of the profile.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from callback_recorder import CallbackRecorder
from differential import Target
from real_letta_server import RealLetta

from letta_contract_kit.mockserver import MockServer
from letta_contract_kit.mockserver.config import PROFILES, MockConfig, config_from_mapping

PROFILE_ENV = "LETTA_MOCK_PROFILE"
QUIRKS_ENV = "LETTA_MOCK_QUIRKS"
NO_QUIRKS_ENV = "LETTA_MOCK_NO_QUIRKS"
COMPAT_PROFILE = "letta-0.16.8"
MOCK_CLOCK = "per-poll"
# The real server's agent for one comparison: made for it and deleted after it, so that runs
# of other tests, or of another comparison running at the same time, do not interfere (a bare
# cancel cancels every active run of its agent).
REAL_AGENT_PREFIX = "differential"


def chosen_profile(explicit: str | None = None) -> str:
    wanted = explicit or os.environ.get(PROFILE_ENV)
    if wanted:
        return wanted
    known: tuple[str, ...] = tuple(PROFILES)
    return COMPAT_PROFILE if COMPAT_PROFILE in known else MockConfig().profile


def names_from_env(variable: str) -> list[str]:
    return [n.strip() for n in os.environ.get(variable, "").split(",") if n.strip()]


def mock_config(
    profile: str, quirks: Sequence[str] = (), no_quirks: Sequence[str] = ()
) -> MockConfig:
    """The mock's settings for the comparison (ValueError for an unknown profile or quirk)."""
    settings: dict[str, Any] = {"clock": MOCK_CLOCK, "profile": profile}
    if quirks:
        settings["quirks"] = list(quirks)
    if no_quirks:
        settings["no_quirks"] = list(no_quirks)
    return config_from_mapping(settings)


def quirks_in_force(config: MockConfig) -> list[str] | None:
    """The names of the quirks ``config`` switches on, when the mock can tell."""
    quirk_set = getattr(config, "quirk_set", None)
    names = getattr(quirk_set, "names", None)
    return sorted(names()) if callable(names) else None


@dataclass(frozen=True)
class Sides:
    mock: Target
    real: Target
    recorder: CallbackRecorder
    profile: str
    clock: str = MOCK_CLOCK


@contextmanager
def compared_servers(real: RealLetta, config: MockConfig) -> Iterator[Sides]:
    own = real.with_new_agent(f"{REAL_AGENT_PREFIX}-{uuid.uuid4().hex[:8]}")
    try:
        with CallbackRecorder() as recorder, MockServer(config) as mock:
            yield Sides(
                mock=Target("mock", mock.base_url, mock.agent_id),
                real=Target("real", own.base_url, own.agent_id),
                recorder=recorder,
                profile=str(config.profile),
            )
    finally:
        if own.agent_id != real.agent_id:
            own.delete_agent()
