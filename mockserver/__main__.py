"""``python -m mockserver``: the same as ``letta-mock``."""

from mockserver.cli import main

raise SystemExit(main())
