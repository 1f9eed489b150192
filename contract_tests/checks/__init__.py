"""Named checks, registered by decorator; see :mod:`contract_tests.checks.registry`."""

from contract_tests.checks.registry import (
    REGISTRY,
    Check,
    CheckContext,
    Failure,
    all_checks,
    check,
    select,
)

__all__ = ["REGISTRY", "Check", "CheckContext", "Failure", "all_checks", "check", "select"]
