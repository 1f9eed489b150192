"""Fixtures of the fidelity tests against a real Letta server (marker ``real_letta``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests
from real_letta_server import RealLetta, saved_settings
from sides import (
    NO_QUIRKS_ENV,
    PROFILE_ENV,
    QUIRKS_ENV,
    Sides,
    chosen_profile,
    compared_servers,
    mock_config,
    names_from_env,
)


@pytest.fixture(scope="session")
def real_letta() -> RealLetta:
    saved = saved_settings()
    base_url = os.environ.get("LETTA_REAL_BASE_URL", saved.get("BASE_URL", ""))
    agent_id = os.environ.get("LETTA_REAL_AGENT_ID", saved.get("AGENT_ID", ""))
    if not base_url or not agent_id:
        pytest.skip("no real Letta server configured (run `tox -e real-letta`)")
    host = urlsplit(base_url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        pytest.fail(f"the fidelity tests only talk to loopback, not {host}")
    try:
        requests.get(f"{base_url}/v1/health/", timeout=5).raise_for_status()
    except requests.RequestException as exc:
        pytest.skip(f"real Letta server at {base_url} is not answering: {exc}")
    return RealLetta(base_url.rstrip("/"), agent_id)


@pytest.fixture(scope="session")
def sides(real_letta: RealLetta) -> Iterator[Sides]:
    """The mock (per-poll clock, profile and quirks from LETTA_MOCK_*) and the real server."""
    profile = chosen_profile()
    try:
        config = mock_config(profile, names_from_env(QUIRKS_ENV), names_from_env(NO_QUIRKS_ENV))
    except ValueError as exc:
        pytest.fail(f"{PROFILE_ENV}={profile!r}: {exc}")
    with compared_servers(real_letta, config) as both:
        yield both
