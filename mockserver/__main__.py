"""``python -m letta_contract_kit.mockserver``: the same as ``letta-mock``."""

from letta_contract_kit.mockserver.cli import main

raise SystemExit(main())
