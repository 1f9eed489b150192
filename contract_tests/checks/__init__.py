"""Named checks, registered by decorator (:mod:`contract_tests.checks.registry`); every check
of the suite, and choosing among them: :mod:`contract_tests.checks.selection`."""

from contract_tests.checks.registry import REGISTRY, Check, CheckContext, Failure, check

__all__ = ["REGISTRY", "Check", "CheckContext", "Failure", "check"]
