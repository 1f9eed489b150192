"""What the console may do on its stream: colour, and a progress line redrawn in place.

Both only on a terminal. ``NO_COLOR`` (https://no-color.org) switches colour off, ``CI`` the
redrawn line (a CI log keeps every line written), ``TERM=dumb`` both. Colour is ANSI
escape codes; the redrawn line needs none (a carriage return and spaces).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TextIO

CODES = {"bold": "1", "red": "31", "green": "32", "yellow": "33"}
FALSE_WORDS = ("", "0", "false", "no")


@dataclass(frozen=True)
class Terminal:
    colour: bool = False
    live: bool = False

    @classmethod
    def of(cls, stream: TextIO, environ: Mapping[str, str] | None = None) -> Terminal:
        """What ``stream`` allows, under ``environ`` (by default the process's)."""
        env = os.environ if environ is None else environ
        tty = _isatty(stream) and env.get("TERM") != "dumb"
        return cls(
            colour=tty and not env.get("NO_COLOR"),
            live=tty and env.get("CI", "").strip().lower() in FALSE_WORDS,
        )

    def paint(self, text: str, *styles: str) -> str:
        """``text`` in ``styles`` (``red``, ``bold``, ...), or as it is without colour."""
        if not self.colour or not styles or not text:
            return text
        return f"\x1b[{';'.join(CODES[s] for s in styles)}m{text}\x1b[0m"


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no such method, or a closed stream
        return False
