"""A conformance suite for Letta's Send Message Async endpoint.

>>> from letta_contract_kit.contract_tests import SuiteConfig, run_suite
>>> result = run_suite(SuiteConfig(base_url="http://127.0.0.1:8283", agent_id="agent-..."))
>>> result.exit_code  # 0 conforming, 1 violations, 2 usage or connection error

Names are imported lazily: the pytest plugin imports this package in every session.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from letta_contract_kit.contract_tests.checks.registry import check
    from letta_contract_kit.contract_tests.config import SuiteConfig
    from letta_contract_kit.contract_tests.engine import run_suite
    from letta_contract_kit.contract_tests.events import SuiteResult, Violation

__all__ = ["SuiteConfig", "SuiteResult", "Violation", "check", "run_suite"]

_WHERE = {
    "SuiteConfig": "letta_contract_kit.contract_tests.config",
    "run_suite": "letta_contract_kit.contract_tests.engine",
    "SuiteResult": "letta_contract_kit.contract_tests.events",
    "Violation": "letta_contract_kit.contract_tests.events",
    "check": "letta_contract_kit.contract_tests.checks.registry",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'letta_contract_kit.contract_tests' has no attribute {name!r}")
