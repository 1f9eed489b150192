"""The latency and CPU ``letta-contract proxy`` adds: the mock reached directly and through it.

    python -m benchmarks.proxy_overhead                   # 3 rounds of 5 s per target, ~1 min
    python -m benchmarks.proxy_overhead --pin             # servers on CPU 0, the load on CPU 1
    python -m benchmarks.proxy_overhead --upstream-latency 0   # an instant upstream: the ceiling
    python -m benchmarks.proxy_overhead --seconds 1 --rounds 1 --warmup 0 --no-results

One mock (``letta-mock``, waitress) is the upstream, taking ``--upstream-latency`` (20 ms)
over every answer as a real server takes time (``--fault-rate 1 --fault latency:0.02``).
Two proxies in front of it are started as processes of their own (``letta-contract proxy
--upstream``, judging every exchange, recording nothing): one judging in the background (the
default), one with ``--judge-inline`` (as with ``--fail-on-violation``: each answer waits
for its judgement).
The same load drives each target in turn, in interleaved rounds (direct, background, inline,
then the other way round), so drift on the machine falls on every target alike: 16
connections (``--connections``), each sending what an application sends, one request at a
time: ``POST .../messages/async`` with the realistic body, then ``--polls`` (3) polls
``GET /v1/runs/{id}`` of the run it created, and again.

Printed per target: requests, requests/s, p50 and p99 latency (all rounds together), what the
proxy adds (its p50/p99 minus the direct one), the proxy process's own CPU time per exchange
(``/proc/<pid>/stat``, user + system, after its background judge has caught up), and the 5xx
answers: those the proxy answered itself (an answer without ``Via``: the proxy adds
``Via: 1.1 letta-contract-proxy`` to every answer it forwards) apart from those it
forwarded. The goal (issue #16): p50 + <= 2 ms at 16 connections with background
judging, and no 5xx of the proxy's own. The added p50 is judged only with an upstream that
takes time: against an instant one (``--upstream-latency 0``) 16 connections saturate the
proxy, and its p50 shows how many exchanges/s it carries (printed as a figure), not what it
adds to one.

The load is generated here, by one asyncio loop (no wrk needed), and is closed: each
connection sends its next request when the last one was answered, as fast as the targets
go (``--rate``: at most that many requests/s in all, spread over the connections). On a
2-core machine the mock, the proxy and the load share the cores unless ``--pin``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.mock_throughput import check_pinned, pinned_argv
from benchmarks.pinning import affinity, parse_cpus
from benchmarks.processes import MissingTool, ServerProcess, console_script, free_port
from benchmarks.report import table, verdict, write_results
from benchmarks.workload import AGENT_ID, AUTH_HEADERS, async_path, realistic_body_text

HOST = "127.0.0.1"
GOAL_ADDED_P50_MS = 2.0
GOAL_CONNECTIONS = 16
REQUEST_TIMEOUT = 10.0  # seconds; an answer later than that counts as an error
# How long the upstream takes over every answer: a real server takes time (Letta 0.16.8 took
# 90-230 ms over the async POST alone, shared/reference/real-server-findings.md section 1),
# and the shorter the upstream's time, the more exchanges/s 16 connections send: 20 ms is a
# fast server, whose 16 connections send about 700 exchanges/s.
DEFAULT_UPSTREAM_LATENCY = 0.02
SETTLE_SECONDS = 10.0  # at most, waiting for a proxy's background judge to catch up
TARGETS = ("direct", "proxy", "proxy-inline")
SUMMARY = re.compile(r"(\d+) exchanges \((\d+) judged\), (\d+) violation")


# ---- the load ----------------------------------------------------------------------------------


@dataclass
class Tally:
    """What one target's load saw: latencies in seconds, statuses, errors."""

    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    own_5xx: int = 0  # answered by the proxy itself
    own_details: list[str] = field(default_factory=list)  # the first few of them
    errors: int = 0  # connection errors, timeouts, answers that could not be read
    first_errors: list[str] = field(default_factory=list)

    def error(self, what: str) -> None:
        self.errors += 1
        if len(self.first_errors) < 3:
            self.first_errors.append(what)


def _request(method: str, path: str, port: int, body: bytes = b"") -> bytes:
    headers = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{port}"]
    headers += [f"{name}: {value}" for name, value in AUTH_HEADERS.items()]
    if body:
        headers += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(headers) + "\r\n\r\n").encode() + body


async def _answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 answer: status, headers (names in lower case), body."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        return status, headers, await reader.readexactly(int(headers["content-length"]))
    if headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while True:  # no trailers: the last chunk is "0\r\n\r\n"
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunks.append((await reader.readexactly(size + 2))[:-2])
            if size == 0:
                return status, headers, b"".join(chunks)
    return status, headers, b""


class Connection:
    """One keep-alive connection to a target, opened again when it is closed."""

    def __init__(self, port: int, proxied: bool, tally: Tally) -> None:
        self.port = port
        self.proxied = proxied
        self.tally = tally
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def send(self, data: bytes) -> tuple[int, bytes] | None:
        """Send one request; its status and body, or None when it failed (counted)."""
        began = time.perf_counter()
        try:
            if self.streams is None:
                self.streams = await asyncio.open_connection(HOST, self.port)
            reader, writer = self.streams
            writer.write(data)
            status, headers, body = await asyncio.wait_for(_answer(reader), REQUEST_TIMEOUT)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
            self.tally.error(f"{type(exc).__name__}: {exc}")
            self.close()
            return None
        self.tally.latencies.append(time.perf_counter() - began)
        self.tally.statuses[status] += 1
        if status >= 500 and self.proxied and "via" not in headers:
            self.tally.own_5xx += 1
            if len(self.tally.own_details) < 3:
                self.tally.own_details.append(f"{status} {body[:300].decode(errors='replace')}")
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, body

    def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()
            self.streams = None


async def _client(
    connection: Connection, deadline: float, polls: int, body: bytes, pace: float, offset: float
) -> None:
    post = _request("POST", async_path(), connection.port, body)
    await asyncio.sleep(offset)  # paced clients start apart, not in one burst
    due = time.perf_counter()
    while time.perf_counter() < deadline:
        sent = 0
        answer = await connection.send(post)
        sent += 1
        run_id = None
        if answer is not None and answer[0] == 200:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                run_id = json.loads(answer[1])["id"]
        for _ in range(polls if run_id else 0):
            if time.perf_counter() >= deadline:
                break
            await connection.send(_request("GET", f"/v1/runs/{run_id}", connection.port))
            sent += 1
        if pace:
            due += pace * sent
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
    connection.close()


def drive(port: int, *, proxied: bool, args: argparse.Namespace, seconds: float) -> Tally:
    """``args.connections`` clients against ``port`` for ``seconds``."""
    tally = Tally()
    body = realistic_body_text().encode()
    pace = args.connections / args.rate if args.rate else 0.0

    async def run() -> None:
        deadline = time.perf_counter() + seconds
        await asyncio.gather(
            *(
                _client(
                    Connection(port, proxied, tally),
                    deadline,
                    args.polls,
                    body,
                    pace,
                    pace * i / args.connections,
                )
                for i in range(args.connections)
            )
        )

    asyncio.run(run())
    return tally


# ---- the figures -------------------------------------------------------------------------------


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile of ``values`` (``share`` from 0 to 1)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


@dataclass
class Figures:
    """Every round of one target, together."""

    tally: Tally = field(default_factory=Tally)
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # the proxy process's, over its rounds
    round_p50_ms: list[float] = field(default_factory=list)

    def add(self, tally: Tally, seconds: float, cpu: float) -> None:
        self.tally.latencies += tally.latencies
        self.tally.statuses += tally.statuses
        self.tally.own_5xx += tally.own_5xx
        self.tally.errors += tally.errors
        self.tally.first_errors += tally.first_errors[: 3 - len(self.tally.first_errors)]
        self.tally.own_details += tally.own_details[: 3 - len(self.tally.own_details)]
        self.seconds += seconds
        self.cpu_seconds += cpu
        if tally.latencies:
            self.round_p50_ms.append(round(percentile(tally.latencies, 0.5) * 1000, 3))

    def row(self, name: str, direct: Figures | None) -> dict[str, Any]:
        latencies = self.tally.latencies
        requests = len(latencies)
        p50 = percentile(latencies, 0.5) * 1000 if latencies else None
        p99 = percentile(latencies, 0.99) * 1000 if latencies else None
        base = direct.row("direct", None) if direct is not None else None
        forwarded_5xx = sum(n for s, n in self.tally.statuses.items() if s >= 500)
        return {
            "target": name,
            "requests": requests,
            "rps": round(requests / self.seconds, 1) if self.seconds else None,
            "p50_ms": round(p50, 3) if p50 is not None else None,
            "p99_ms": round(p99, 3) if p99 is not None else None,
            "added_p50_ms": _minus(p50, base["p50_ms"] if base else None),
            "added_p99_ms": _minus(p99, base["p99_ms"] if base else None),
            "proxy_cpu_us": round(self.cpu_seconds / requests * 1e6, 1)
            if base and requests
            else None,
            "own_5xx": self.tally.own_5xx if base else None,
            "upstream_5xx": forwarded_5xx - self.tally.own_5xx,
            "errors": self.tally.errors,
            "round_p50_ms": self.round_p50_ms,
            "statuses": dict(sorted(self.tally.statuses.items())),
            "first_errors": self.tally.first_errors,
            "own_5xx_answers": self.tally.own_details,
        }


def _minus(value: float | None, base: float | None) -> float | None:
    return round(value - base, 3) if value is not None and base is not None else None


def settled_cpu(server: ServerProcess) -> float:
    """The server's CPU seconds once they stop growing (its background judge caught up)."""
    last = server.cpu_seconds()
    began = time.monotonic()
    while time.monotonic() - began < SETTLE_SECONDS:
        time.sleep(0.1)
        now = server.cpu_seconds()
        if now - last < 0.015:  # about one clock tick in 0.1 s: idle
            return now
        last = now
    return last


# ---- the run -----------------------------------------------------------------------------------


@contextlib.contextmanager
def servers(args: argparse.Namespace, folder: Path) -> Iterator[dict[str, ServerProcess]]:
    """The mock and the two proxies, started (pinned when asked) and stopped."""
    cpus = args.server_cpus if args.pin else None
    mock_port = free_port()
    mock = ServerProcess(
        "mock",
        pinned_argv(
            [
                console_script("letta-mock"),
                *("--port", str(mock_port), "--agent", AGENT_ID),
                *upstream_latency_flags(args.upstream_latency, args.connections),
            ],
            cpus,
        ),
        mock_port,
        log_path=folder / "mock.log",
    )
    started: dict[str, ServerProcess] = {}
    try:
        mock.start()
        started["direct"] = mock
        for name, extra in (("proxy", []), ("proxy-inline", ["--judge-inline"])):
            port = free_port()
            proxy = ServerProcess(
                name,
                pinned_argv(
                    [
                        console_script("letta-contract"),
                        "proxy",
                        "--upstream",
                        mock.base_url,
                        "--port",
                        str(port),
                        *extra,
                    ],
                    cpus,
                ),
                port,
                log_path=folder / f"{name}.log",
            )
            proxy.start()
            started[name] = proxy
        for server in started.values():
            check_pinned(server, cpus)
        yield started
    finally:
        for server in reversed(list(started.values())):
            server.stop()


def upstream_latency_flags(seconds: float, connections: int) -> list[str]:
    """The mock's flags that delay every /v1 answer by ``seconds`` (none for 0), with a
    thread for each connection (64 at least), so the delay does not queue requests in it."""
    if not seconds:
        return []
    threads = str(max(64, connections))
    return ["--fault-rate", "1", "--fault", f"latency:{seconds:g}", "--threads", threads]


def judged_summary(log: Path) -> dict[str, int] | None:
    """What a stopped proxy's last line says it saw: exchanges, judged, violations."""
    found = SUMMARY.findall(log.read_text(errors="replace")) if log.exists() else []
    if not found:
        return None
    exchanges, judged, violations = (int(n) for n in found[-1])
    return {"exchanges": exchanges, "judged": judged, "violations": violations}


def measure(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    figures = {name: Figures() for name in TARGETS}
    with servers(args, folder) as started, affinity(args.load_cpus if args.pin else None):
        for name in TARGETS:
            if args.warmup:
                drive(started[name].port, proxied=name != "direct", args=args, seconds=args.warmup)
        for round_no in range(args.rounds):
            order = TARGETS if round_no % 2 == 0 else tuple(reversed(TARGETS))
            for name in order:
                server = started[name]
                proxied = name != "direct"
                before = settled_cpu(server) if proxied else 0.0
                began = time.perf_counter()
                tally = drive(server.port, proxied=proxied, args=args, seconds=args.seconds)
                took = time.perf_counter() - began
                cpu = settled_cpu(server) - before if proxied else 0.0
                figures[name].add(tally, took, cpu)
    direct = figures["direct"]
    rows = [figures[name].row(name, None if name == "direct" else direct) for name in TARGETS]
    for row in rows[1:]:
        row["proxy_log"] = judged_summary(folder / f"{row['target']}.log")
    return {"rows": rows}


def goals(rows: Sequence[dict[str, Any]], args: argparse.Namespace) -> list[dict[str, Any]]:
    """The goals of issue #16. The added latency is judged only when the proxy is not
    saturated: the upstream takes time to answer, as a real server does, or the load is paced.
    In a closed loop against an instant upstream the p50 shows how many exchanges/s the proxy
    carries (its ceiling, printed as a figure), not what it adds to one exchange."""
    background = next(r for r in rows if r["target"] == "proxy")
    direct = next(r for r in rows if r["target"] == "direct")
    added = background["added_p50_ms"]
    connections = args.connections
    carried = background["rps"] or 0.0
    if args.upstream_latency > 0:
        condition, saturated = f"upstream {args.upstream_latency * 1000:g} ms", False
    elif args.rate > 0:
        saturated = carried < 0.95 * args.rate
        condition = f"instant upstream, paced at {args.rate:g}/s"
        if saturated:
            condition += f" but {carried:g}/s carried"
    else:
        condition, saturated = "instant upstream, closed loop (saturated: not the goal)", True
    judged = connections == GOAL_CONNECTIONS and not saturated
    measured = "-" if added is None else f"{added} ms at {connections}, {condition}"
    own = sum(r["own_5xx"] or 0 for r in rows)
    checked = [
        {
            "goal": f"added p50 <= {GOAL_ADDED_P50_MS:g} ms at {GOAL_CONNECTIONS} connections "
            "(background judging)",
            "measured": measured,
            "verdict": verdict(
                added <= GOAL_ADDED_P50_MS if judged and added is not None else None
            ),
        },
        {
            "goal": "no 5xx of the proxy's own",
            "measured": str(own),
            "verdict": verdict(own == 0),
        },
    ]
    if background["rps"] and direct["rps"]:
        share = background["rps"] / direct["rps"]
        checked.append(
            {
                "goal": "exchanges/s through the proxy, of direct (a figure, no goal)",
                "measured": f"{background['rps']:,.0f} of {direct['rps']:,.0f} ({share:.2f}x)",
                "verdict": "-",
            }
        )
    return checked


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.proxy_overhead",
        description="The latency and CPU letta-contract proxy adds in front of the mock.",
    )
    parser.add_argument("--connections", type=int, default=GOAL_CONNECTIONS)
    parser.add_argument("--seconds", type=float, default=5.0, help="of each target per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds over every target")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds per target")
    parser.add_argument("--polls", type=int, default=3, help="GETs of each run after its POST")
    parser.add_argument(
        "--rate", type=float, default=0.0, help="at most this many requests/s in all (0: closed)"
    )
    parser.add_argument(
        "--upstream-latency",
        type=float,
        default=DEFAULT_UPSTREAM_LATENCY,
        metavar="SECONDS",
        help="the mock takes this long over every answer, as a real server does (default: "
        f"{DEFAULT_UPSTREAM_LATENCY:g}; 0: an instant upstream, the proxy's ceiling)",
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help="the mock and the proxies on --server-cpus, the load on --load-cpus (taskset)",
    )
    parser.add_argument("--server-cpus", default="0", help="taskset -c list (with --pin)")
    parser.add_argument("--load-cpus", default="1", help="taskset -c list (with --pin)")
    parser.add_argument(
        "--no-results", action="store_true", help="print only; write nothing to results/"
    )
    args = parser.parse_args(argv)
    if args.connections < 1 or args.rounds < 1 or args.seconds <= 0 or args.polls < 0:
        parser.error("--connections and --rounds take at least 1, --seconds more than 0")
    if not 0 <= args.upstream_latency <= 60:
        parser.error("--upstream-latency takes 0 to 60 seconds")
    if args.pin and parse_cpus(args.server_cpus) & parse_cpus(args.load_cpus):
        parser.error("--server-cpus and --load-cpus must not share a CPU")
    return args


COLUMNS = [
    "target",
    "requests",
    "rps",
    "p50_ms",
    "p99_ms",
    "added_p50_ms",
    "added_p99_ms",
    "proxy_cpu_us",
    "own_5xx",
    "upstream_5xx",
    "errors",
]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        with tempfile.TemporaryDirectory(prefix="letta-bench-") as folder:
            try:
                measured = measure(args, Path(folder))
            except RuntimeError as exc:
                logs = "".join(
                    p.read_text(errors="replace")[-1500:] for p in Path(folder).glob("*.log")
                )
                print(f"failed: {exc}\n{logs}", file=sys.stderr)
                return 1
    except MissingTool as exc:
        print(f"missing: {exc}", file=sys.stderr)
        return 2
    rows = measured["rows"]
    pinning = f"servers on CPU {args.server_cpus}, load on CPU {args.load_cpus}"
    print(
        f"{args.connections} connections, POST + {args.polls} polls, {args.rounds} round(s) of "
        f"{args.seconds:g} s per target, upstream answering in "
        f"{args.upstream_latency * 1000:g} ms, " + (pinning if args.pin else "unpinned")
    )
    print(table(rows, COLUMNS))
    for row in rows[1:]:
        seen = row["proxy_log"]
        if seen is not None:
            print(
                f"{row['target']}: {seen['exchanges']} exchanges, {seen['judged']} judged, "
                f"{seen['violations']} violation(s) (its summary on exit)"
            )
        for answer in row["own_5xx_answers"]:
            print(f"{row['target']} answered itself: {answer}")
    print()
    checked = goals(rows, args)
    print(table(checked, ["goal", "measured", "verdict"]))
    if not args.no_results:
        settings = {k: v for k, v in vars(args).items() if k != "no_results"}
        path = write_results(
            "proxy_overhead", {"settings": settings, "results": rows, "goals": checked}
        )
        print(f"\nwritten: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
