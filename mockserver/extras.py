"""The optional parts of the mock and the extras that install them.

``--server granian`` needs Granian (the ``[fast]`` extra), ``--store lmdb`` needs ``lmdb``
(``[lmdb]``) and ``--store redis`` needs redis-py (``[redis]``); the default server (waitress) and stores (memory, SQLite)
need nothing beyond the kit itself.
"""

from __future__ import annotations

import importlib.util

# (what asks for it, the module it needs, the extra that installs it)
OPTIONAL = {
    "server 'granian'": ("granian", "fast"),
    "store 'lmdb'": ("lmdb", "lmdb"),
    "store 'redis'": ("redis", "redis"),
}


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def missing(what: str) -> str | None:
    """Why ``what`` (a key of OPTIONAL) cannot be used here, with the command that fixes it;
    None when its module is installed."""
    module, extra = OPTIONAL[what]
    if installed(module):
        return None
    return f"{what} needs the {module} package (the kit's [{extra}] extra): pip install {module}"
