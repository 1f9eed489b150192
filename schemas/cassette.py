"""The cassette ``letta-contract proxy --record`` writes and ``letta-mock --replay`` reads:
what its writer and its readers share, taken from ``cassette-line.json`` itself."""

from __future__ import annotations

from typing import Any

from letta_contract_kit.schemas.loader import raw

LINE_SCHEMA = "cassette-line"
BODY_SCHEMA = "cassette-body"


def _const(field: str) -> Any:
    return raw(LINE_SCHEMA)["properties"][field]["const"]


# What every line says it is, and the format's version (a reader refuses others).
KIND: str = str(_const("cassette"))
VERSION: int = int(_const("version"))
# A body longer than this is kept cut, marked ``truncated``.
MAX_BODY_BYTES = 4 * 1024 * 1024
