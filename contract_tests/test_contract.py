"""The suite as pytest tests: one per check (``pytest --pyargs letta_contract_kit.contract_tests --letta-...``)."""

from __future__ import annotations

from typing import Any

import pytest


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "letta_check" in metafunc.fixturenames:
        if metafunc.config.getoption("letta_base_url", None):
            from letta_contract_kit.contract_tests.pytest_support import selected_checks

            names = selected_checks(metafunc.config)
        else:
            names = ["(suite not configured)"]
        metafunc.parametrize("letta_check", names)


def test_target_usable(letta_contract_result: Any) -> None:
    """The target answered and the suite could set itself up (else exit code 2)."""
    if letta_contract_result.errors:
        pytest.fail("\n".join(letta_contract_result.errors), pytrace=False)


def test_check(letta_contract_result: Any, letta_check: str) -> None:
    from letta_contract_kit.contract_tests.reporting.junit import _details

    found = [v for v in letta_contract_result.violations if v.check == letta_check]
    if found:
        text = "\n\n".join(_details(v) for v in found)
        pytest.fail(f"{len(found)} violation(s) of {letta_check}:\n\n{text}", pytrace=False)
