"""A conformance suite for Letta's Send Message Async endpoint.

>>> from contract_tests import SuiteConfig, run_suite
>>> result = run_suite(SuiteConfig(base_url="http://127.0.0.1:8283", agent_id="agent-..."))
>>> result.exit_code  # 0 conforming, 1 violations, 2 usage or connection error

Names are imported lazily: the pytest plugin imports this package in every session.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from contract_tests.checks.registry import check
    from contract_tests.config import SuiteConfig
    from contract_tests.engine import run_suite
    from contract_tests.events import SuiteResult, Violation

__all__ = ["SuiteConfig", "SuiteResult", "Violation", "check", "run_suite"]

_WHERE = {
    "SuiteConfig": "contract_tests.config",
    "run_suite": "contract_tests.engine",
    "SuiteResult": "contract_tests.events",
    "Violation": "contract_tests.events",
    "check": "contract_tests.checks.registry",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'contract_tests' has no attribute {name!r}")
