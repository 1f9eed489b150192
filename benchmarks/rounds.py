"""Paired rounds: every compared subject measured once a round, in an order that turns, and
each comparison taken round by round.

On this kind of machine (a shared virtual one) a server's throughput moves by a third between
runs minutes apart with nothing on the machine to show for it. Subjects measured one after the
other are compared across that drift. Measured in rounds (A B C, then B C A, then C A B), the
cells a round compares are taken a few seconds apart; a comparison is made within each round
and the median of the rounds' figures is what a goal is judged on, with their spread beside it.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


def order(items: Sequence[T], round_index: int) -> list[T]:
    """``items`` in the order of round ``round_index`` (from 0): turned by one a round, so that
    no subject is always measured first, or always right after the same one."""
    if not items:
        return []
    turn = round_index % len(items)
    return [*items[turn:], *items[:turn]]


def paired(
    numerators: Sequence[float | None], denominators: Sequence[float | None]
) -> list[float | None]:
    """Round by round, ``numerators[i] / denominators[i]`` (None where either is missing or the
    denominator is zero). The two must have the same rounds."""
    if len(numerators) != len(denominators):
        raise ValueError(f"{len(numerators)} rounds against {len(denominators)}")
    return [
        a / b if a is not None and b else None
        for a, b in zip(numerators, denominators, strict=True)
    ]


@dataclass(frozen=True)
class Spread:
    """A figure over rounds: the median, the lowest and highest, how many rounds."""

    median: float
    low: float
    high: float
    rounds: int

    def shown(self) -> str:
        """``low-high (N rounds)``, or ``-`` for a single round."""
        if self.rounds == 1:
            return "-"
        return f"{self.low:.2f}-{self.high:.2f} ({self.rounds} rounds)"


def spread(values: Iterable[float | None]) -> Spread | None:
    """The spread of one figure over its rounds; None when a round has no figure (a missing
    round is not dropped: a median of the rounds that happened to work would flatter)."""
    found = list(values)
    if not found or any(value is None for value in found):
        return None
    numbers = [float(value) for value in found if value is not None]
    return Spread(statistics.median(numbers), min(numbers), max(numbers), len(numbers))


DEFAULT_ROUNDS = 3
DEFAULT_SECONDS = 6.0


def add_arguments(parser: argparse.ArgumentParser, each_round: str) -> None:
    """``--seconds`` (of a wrk run) and ``--rounds``; ``each_round`` says what a round
    measures once."""
    parser.add_argument(
        "--seconds", type=float, default=DEFAULT_SECONDS, help="length of each wrk run"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=DEFAULT_ROUNDS,
        help=f"rounds: each measures {each_round} once, in an order that turns; goals are "
        "judged on the median of the rounds' figures",
    )


def check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
