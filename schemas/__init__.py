"""JSON Schemas (draft 2020-12) of Letta's Send Message Async endpoint and its runs.

The schema files beside this module are the single source of truth of the kit.
"""

from letta_contract_kit.schemas.loader import (
    READINGS,
    Reading,
    names,
    raw,
    registry,
    resolved,
    schema,
    uri,
)
from letta_contract_kit.schemas.readings import Classification, Verdict, classify
from letta_contract_kit.schemas.validation import ContractValidator, Problem, validator

__all__ = [
    "READINGS",
    "Classification",
    "ContractValidator",
    "Problem",
    "Reading",
    "Verdict",
    "classify",
    "names",
    "raw",
    "registry",
    "resolved",
    "schema",
    "uri",
    "validator",
]
