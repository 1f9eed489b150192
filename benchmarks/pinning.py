"""Which CPUs a benchmark's server and its load generator run on, when pinned.

A pinned benchmark puts the server on ``--server-cpus`` and wrk on ``--load-cpus`` (by
default core 0 and core 1), so that the server gets the same one core in every run and the
load generator never competes with it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator


def parse_cpus(text: str) -> set[int]:
    """A ``taskset -c`` list (``0``, ``0,1``, ``0-3``) as a set of CPU numbers."""
    cpus: set[int] = set()
    for part in text.split(","):
        first, _, last = part.strip().partition("-")
        cpus.update(range(int(first), int(last or first) + 1))
    return cpus


def cpu_list(cpus: set[int]) -> str:
    return ",".join(str(cpu) for cpu in sorted(cpus))


@contextlib.contextmanager
def affinity(cpus: str | None) -> Iterator[None]:
    """This thread (and so every thread and program it starts: a server's threads, wrk) on
    ``cpus`` for the block; None leaves it where it is."""
    if cpus is None:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, parse_cpus(cpus))
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def checked_cpus(parser: argparse.ArgumentParser, server: str, load: str) -> tuple[str, str]:
    """``--server-cpus`` and ``--load-cpus`` as canonical lists; the parser's error if they
    are not lists, not usable by this process, or share a CPU."""
    usable = os.sched_getaffinity(0)
    try:
        server_cpus, load_cpus = parse_cpus(server), parse_cpus(load)
    except ValueError:
        parser.error("--server-cpus and --load-cpus take taskset -c lists, e.g. 0 or 0-1")
    if not server_cpus <= usable or not load_cpus <= usable:
        parser.error(f"this process may only use CPUs {cpu_list(usable)}")
    if server_cpus & load_cpus:
        parser.error("--server-cpus and --load-cpus must not share a CPU (or use --no-pin)")
    return cpu_list(server_cpus), cpu_list(load_cpus)
