"""Which phases run, in which order (the engine's only list of them)."""

from __future__ import annotations

from letta_contract_kit.contract_tests.phases import Phase
from letta_contract_kit.contract_tests.phases.coverage import PHASE as COVERAGE
from letta_contract_kit.contract_tests.phases.divergence import PHASE as DIVERGENCE
from letta_contract_kit.contract_tests.phases.lifecycle import PHASE as LIFECYCLE
from letta_contract_kit.contract_tests.phases.listing import PHASE as LISTING
from letta_contract_kit.contract_tests.phases.negative import PHASE as NEGATIVE
from letta_contract_kit.contract_tests.phases.positive import PHASE as POSITIVE

PHASES: tuple[Phase, ...] = (NEGATIVE, COVERAGE, POSITIVE, LIFECYCLE, LISTING, DIVERGENCE)
