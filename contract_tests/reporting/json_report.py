"""The whole result as one JSON document."""

from __future__ import annotations

import json
from pathlib import Path

from letta_contract_kit.contract_tests.events import Event, SuiteFinished


class JsonReporter:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __call__(self, event: Event) -> None:
        if isinstance(event, SuiteFinished):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(
                json.dumps(event.result.as_dict(), indent=2, ensure_ascii=False, default=str),
                encoding="utf-8",
            )
