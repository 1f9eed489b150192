"""Which CPUs a benchmark's server and its load generator run on, when pinned.

A pinned benchmark puts the server on ``--server-cpus`` and wrk on ``--load-cpus`` (by
default core 0 and core 1), so that the server gets the same one core in every run and the
load generator never competes with it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path


def parse_cpus(text: str) -> set[int]:
    """A ``taskset -c`` list (``0``, ``0,1``, ``0-3``) as a set of CPU numbers."""
    cpus: set[int] = set()
    for part in text.split(","):
        first, _, last = part.strip().partition("-")
        cpus.update(range(int(first), int(last or first) + 1))
    return cpus


def cpu_list(cpus: set[int]) -> str:
    return ",".join(str(cpu) for cpu in sorted(cpus))


def cpu_ticks() -> dict[int, tuple[int, int, int]]:
    """Each CPU's busy, stolen and total clock ticks so far, machine-wide (``/proc/stat``)."""
    ticks: dict[int, tuple[int, int, int]] = {}
    for line in Path("/proc/stat").read_text().splitlines():
        name, *values = line.split()
        if not name.startswith("cpu") or name == "cpu":
            continue
        # user nice system idle iowait irq softirq steal (guest time is inside user).
        user, nice, system, idle, iowait, irq, softirq, steal = (int(v) for v in values[:8])
        busy = user + nice + system + irq + softirq
        ticks[int(name[3:])] = (busy, steal, busy + idle + iowait + steal)
    return ticks


@dataclass(frozen=True)
class Ticks:
    """Clock ticks of some CPUs over an interval: busy, given by the hypervisor to other
    guests (stolen), and in all."""

    busy: int
    stolen: int
    total: int

    @property
    def steal(self) -> float:
        """The share of the CPUs' time the hypervisor gave to other guests (NaN if no time
        passed)."""
        return round(self.stolen / self.total, 3) if self.total else float("nan")

    @property
    def busy_share(self) -> float:
        return round(self.busy / self.total, 3) if self.total else float("nan")


def ticks_between(
    before: dict[int, tuple[int, int, int]],
    after: dict[int, tuple[int, int, int]],
    cpus: Iterable[int],
) -> Ticks:
    """The ticks of ``cpus`` from one ``cpu_ticks()`` to another."""
    busy = stolen = total = 0
    for cpu in cpus:
        then, now = before.get(cpu, (0, 0, 0)), after.get(cpu, (0, 0, 0))
        busy += now[0] - then[0]
        stolen += now[1] - then[1]
        total += now[2] - then[2]
    return Ticks(busy, stolen, total)


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
