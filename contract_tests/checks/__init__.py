"""Named checks, registered by decorator (:mod:`letta_contract_kit.contract_tests.checks.registry`); every check
of the suite, and choosing among them: :mod:`letta_contract_kit.contract_tests.checks.selection`."""

from letta_contract_kit.contract_tests.checks.registry import (
    REGISTRY,
    Check,
    CheckContext,
    Failure,
    check,
)

__all__ = ["REGISTRY", "Check", "CheckContext", "Failure", "check"]
