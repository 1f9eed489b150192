"""pytest plugin: ``pytest --pyargs letta_contract_kit.contract_tests --letta-base-url URL``.

Loaded in every pytest session of anyone who installs the kit, so it only declares its
options and a fixture; the engine is imported when the fixture is first used.
"""

from __future__ import annotations

from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    from letta_contract_kit.contract_tests.options import OPTIONS

    group = parser.getgroup("letta-contract", "Letta Send Message Async conformance suite")
    for name, kwargs in OPTIONS:
        group.addoption(f"--letta-{name}", dest=f"letta_{name.replace('-', '_')}", **kwargs)


@pytest.fixture(scope="session")
def letta_contract_result(pytestconfig: pytest.Config) -> Any:
    """The suite's result against ``--letta-base-url`` (run once per session)."""
    values = {
        name.replace("-", "_"): pytestconfig.getoption(f"letta_{name.replace('-', '_')}")
        for name in _names()
    }
    if not values.get("base_url"):
        pytest.skip("pass --letta-base-url to run the Letta contract suite")
    from letta_contract_kit.contract_tests.pytest_support import run_for_pytest

    return run_for_pytest(pytestconfig, values)


def _names() -> list[str]:
    from letta_contract_kit.contract_tests.options import OPTIONS

    return [name for name, _ in OPTIONS]
