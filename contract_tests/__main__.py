import sys

from letta_contract_kit.contract_tests.cli import main

sys.exit(main())
