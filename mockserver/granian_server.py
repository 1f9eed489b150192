"""Serving the mock with Granian: HTTP parsed in Rust, the Flask app in worker processes.

Granian runs a supervising process and ``workers`` worker processes (one by default) that
accept on the same socket. Each worker holds a service (clock, sweep, callback pool, journal);
with one worker the runs may live in memory, with several they must live in a store the
processes share (LMDB or SQLite), so every worker sees every run. Workers are forked from the
supervisor: a service built before ``serve`` (a filled store, say) is inherited, and the app,
its sweep thread and its callback pool start in each worker.

A worker that dies is replaced by a new one (the runs of a shared store survive it; a worker's
memory store does not). The supervisor prints the "listening" line only once every worker
accepts connections (``announce_when_accepting``).

Granian cannot run inside a thread of another program, so ``MockServer`` (in-process, for
tests) always uses waitress; the CLI uses Granian when given ``--server granian``. waitress
stays the default because it answers broken HTTP with JSON errors and Granian's HTTP layer
does not (docs/mock.md).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from letta_contract_kit.mockserver.config import MockConfig

# prctl(2): deliver a signal to this process when its parent dies (Linux).
PR_SET_PDEATHSIG = 1
# Seconds between looks for the workers' sockets while starting, and the guard of each look.
READY_PAUSE = 0.02
READY_CONNECT_TIMEOUT = 1.0
# Linux's tables of TCP sockets, and the state a listening socket has in them.
PROC_NET_TCP = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))
TCP_LISTEN = "0A"


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


def listening_sockets(port: int) -> int | None:
    """How many sockets listen on ``port`` (each Granian worker has its own), or None where
    the system does not say (not Linux)."""
    count, known = 0, False
    for table in PROC_NET_TCP:
        with contextlib.suppress(OSError):
            rows = table.read_text().splitlines()[1:]
            known = True
            for row in rows:
                fields = row.split()
                local, state = fields[1], fields[3]
                if state == TCP_LISTEN and int(local.rpartition(":")[2], 16) == port:
                    count += 1
    return count if known else None


def accepting(host: str, port: int, workers: int) -> bool:
    """A connection to ``host``:``port`` succeeds, and (where the system says) every worker
    listens."""
    try:
        with socket.create_connection((host, port), timeout=READY_CONNECT_TIMEOUT):
            pass
    except OSError:
        return False
    listeners = listening_sockets(port)
    return listeners is None or listeners >= workers


def announce_when_accepting(config: MockConfig, port: int, announce: Callable[[], None]) -> None:
    """Call ``announce`` (in a thread of the supervisor) once the workers accept on ``port``:
    Granian's workers each bind their own socket after loading the app, so before that a
    connection is refused."""

    def wait() -> None:
        while not accepting(config.host, port, config.workers):
            time.sleep(READY_PAUSE)
        announce()

    threading.Thread(target=wait, name="letta-mock-ready", daemon=True).start()


def serve_granian(config: MockConfig, port: int, build_app: Callable[[], Any]) -> None:
    """Serve ``build_app()`` (called in the worker) on ``port`` (not 0: Granian does not say
    which port it bound) until the supervisor is interrupted."""
    from granian.constants import HTTPModes, Interfaces
    from granian.http import HTTP1Settings
    from granian.log import LogLevels
    from granian.server.mp import MPServer

    def load(*_: Any, **__: Any) -> Any:
        _die_with_parent()
        return build_app()

    server = MPServer(
        "letta-mock",
        address=config.host,
        port=port,
        interface=Interfaces.WSGI,
        workers=config.workers,
        blocking_threads=config.threads_for("granian"),
        log_level=LogLevels.warning,
        http=HTTPModes.http1,
        # A head not received whole in this time is refused (hyper's default: 30 s).
        http1_settings=HTTP1Settings(header_read_timeout=round(config.idle_timeout * 1000)),
        # A worker that dies is replaced (one that dies again within 5.5 s of its start
        # stops the server: Granian's guard against a crash loop).
        respawn_failed_workers=True,
    )
    server.serve(target_loader=load, wrap_loader=False)
