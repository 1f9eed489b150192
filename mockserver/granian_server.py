"""Serving the mock with Granian: HTTP parsed in Rust, the Flask app in worker processes.

Granian runs a supervising process and ``workers`` worker processes (one by default) that
accept on the same socket. Each worker holds a service (clock, sweep, callback pool, journal);
with one worker the runs may live in memory, with several they must live in a store the
processes share (LMDB or SQLite), so every worker sees every run. Workers are forked from the
supervisor: a service built before ``serve`` (a filled store, say) is inherited, and the app,
its sweep thread and its callback pool start in each worker.

Granian cannot run inside a thread of another program, so ``MockServer`` (in-process, for
tests) always uses waitress; the CLI uses Granian when given ``--server granian``. waitress
stays the default because it answers broken HTTP with JSON errors and Granian's HTTP layer
does not (docs/mock.md).
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import sys
from collections.abc import Callable
from typing import Any

from mockserver.config import MockConfig

# prctl(2): deliver a signal to this process when its parent dies (Linux).
PR_SET_PDEATHSIG = 1


def free_port(host: str) -> int:
    """A port nobody listens on now (Granian does not report the port it bound for 0)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _die_with_parent() -> None:
    """Make the worker end when the supervisor is killed, so no orphan keeps the port."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the supervisor is already gone
        os._exit(1)


def serve_granian(config: MockConfig, build_app: Callable[[], Any]) -> None:
    """Serve ``build_app()`` (called in the worker) until the supervisor is interrupted."""
    from granian.constants import HTTPModes, Interfaces
    from granian.log import LogLevels
    from granian.server.mp import MPServer

    def load(*_: Any, **__: Any) -> Any:
        _die_with_parent()
        return build_app()

    server = MPServer(
        "letta-mock",
        address=config.host,
        port=config.port,
        interface=Interfaces.WSGI,
        workers=config.workers,
        blocking_threads=config.threads_for("granian"),
        log_level=LogLevels.warning,
        http=HTTPModes.http1,
    )
    server.serve(target_loader=load, wrap_loader=False)
