"""Where the mock's CPU goes under load, on one core: per thread, and by Python frame.

    python -m benchmarks.profile_mock                           # waitress and Granian, POSTs
    python -m benchmarks.profile_mock --servers granian --endpoint get --seconds 30

Each server (``mock``: ``letta-mock`` as shipped, on waitress; ``mock-granian``:
``letta-mock --server granian``, one worker) is started under ``taskset -c 0``; wrk, py-spy and
this script run on CPU 1, as in ``mock_throughput --pin``. After a warm-up, two wrk runs of
``--seconds`` at ``--connections``:

1. **unprofiled**: requests/s, and the CPU time of every thread of the server (``/proc``, user
   and system apart) per request. Threads are named from a ``py-spy dump`` (Python's names) or,
   for threads without Python (Granian's Rust runtime), from the kernel's.
2. **under py-spy** (``record --gil --nonblocking --function``): only the thread holding the
   GIL is sampled, which on one core is the Python work being done (C code called with the GIL
   held, such as orjson, counts to its caller). Samples are turned into microseconds per
   request (a sample stands for 1/rate s) and ranked by self and by cumulative time; self time
   is also summed by module. Time without the GIL (system calls, the kernel's loopback, Rust
   without the GIL, switching threads) is not in the samples: the per-thread figures of the
   first run account for it.

The raw py-spy file and the figures are written to ``benchmarks/results/``; ``--read RAW``
ranks a kept raw file again (``--focus`` names other functions to total).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.mock_throughput import (
    GET_IDS,
    MOCK_SERVERS,
    MULTI_CORE,
    check_pinned,
    pinned_argv,
    source_digest,
)
from benchmarks.pinning import affinity, cpu_ticks, parse_cpus, ticks_between
from benchmarks.processes import (
    CLOCK_TICKS,
    MissingTool,
    ServerProcess,
    console_script,
    descendants,
    free_port,
)
from benchmarks.report import RESULTS, table, write_results
from benchmarks.workload import (
    AGENT_ID,
    AUTH_HEADERS,
    async_path,
    create_runs,
    realistic_body_text,
)
from benchmarks.wrk import WrkResult, get_script, post_script, run_wrk, wrk_version

# The one-process servers of mock_throughput (one core is profiled).
SERVERS = {name: flags for name, flags in MOCK_SERVERS.items() if name not in MULTI_CORE}
# The project's own packages: their modules are kept apart when self time is summed.
OWN_PACKAGES = ("mockserver", "schemas", "contract_tests", "fixtures")
# The number that tells the threads of one pool apart ("waitress-3").
NUMBERED = re.compile(r"[-_]?\d+$")
NO_PYTHON = "(no Python frame)"
# Functions whose cumulative time is shown (``--focus`` replaces them): the HTTP server's
# parts, the app's way in, and each step of a POST and a GET, as the mock names them now.
FOCUS = (
    "HTTPChannel.handle_read",
    "HTTPChannel.handle_write",
    "WSGITask.get_environment",
    "Task.build_response_header",
    "_callback_wrapper.<locals>._runner",
    NO_PYTHON,
    "Flask.__call__",
    "Flask.full_dispatch_request",
    "PreparedDispatch.__call__",
    "Request.__init__",
    "Flask.app_context",
    "AppContext.__exit__",
    "Hooks.gate",
    "accept_message",
    "read_json",
    "ContractValidator.is_valid",
    "ContractValidator.problems",
    "MockService.create_run",
    "MemoryStore.add_run",
    "require_run",
    "OrjsonProvider.response",
    "Response.__call__",
    "Hooks.record",
    "Journal.add",
    "_journal_body",
    "MockService.sweep_if_due",
    "MemoryStore.due_runs",
    "MockService._refresh",
    "RunRecord.from_bytes",
    "RunRecord.to_bytes",
)


def py_spy() -> str:
    beside = Path(sys.executable).with_name("py-spy")
    found = str(beside) if beside.is_file() else shutil.which("py-spy")
    if not found:
        raise MissingTool("py-spy is not installed: pip install py-spy")
    return found


# -- threads ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ThreadTime:
    """One thread's CPU time so far, in clock ticks."""

    pid: int
    tid: int
    comm: str
    user: int
    system: int


def thread_times(root: int) -> dict[int, ThreadTime]:
    """Every thread of every process under ``root``, by thread id."""
    found: dict[int, ThreadTime] = {}
    for pid in descendants(root):
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{pid}/task").iterdir():
                with contextlib.suppress(OSError, ValueError):
                    text = (task / "stat").read_text()
                    comm = text[text.index("(") + 1 : text.rindex(")")]
                    fields = text[text.rindex(")") + 2 :].split()
                    # utime and stime are fields 14 and 15 (1-based) of the full line.
                    found[int(task.name)] = ThreadTime(
                        pid, int(task.name), comm, int(fields[11]), int(fields[12])
                    )
    return found


def python_thread_names(pid: int) -> dict[int, str]:
    """Python's name for each of ``pid``'s Python threads, by OS thread id (``py-spy dump``)."""
    completed = subprocess.run(
        [py_spy(), "dump", "--pid", str(pid), "--json"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"py-spy dump failed: {completed.stderr.strip()}")
    names: dict[int, str] = {}
    for thread in json.loads(completed.stdout):
        if thread.get("os_thread_id") is not None:
            names[int(thread["os_thread_id"])] = thread.get("thread_name") or "(unnamed Python)"
    return names


def thread_group(thread: ThreadTime, worker: int, names: dict[int, str]) -> str:
    """A name for the thread's role: numbered threads of one pool share one."""
    process = "" if thread.pid == worker else "supervisor: "
    if thread.tid in names:
        return process + NUMBERED.sub("-*", names[thread.tid])
    return process + NUMBERED.sub("-*", thread.comm) + " (no Python)"


def _worker(root: int) -> int:
    """The process that serves: ``root`` itself, or under Granian its one worker."""
    below = [pid for pid in descendants(root) if pid != root]
    return below[0] if below else root


def per_thread(
    before: dict[int, ThreadTime],
    after: dict[int, ThreadTime],
    worker: int,
    names: dict[int, str],
    requests: int,
) -> list[dict[str, Any]]:
    """CPU µs per request of each thread group over an interval, user and system apart."""
    user: Counter[str] = Counter()
    system: Counter[str] = Counter()
    count: Counter[str] = Counter()
    for tid, now in after.items():
        then = before.get(tid, ThreadTime(now.pid, tid, now.comm, 0, 0))
        group = thread_group(now, worker, names)
        user[group] += now.user - then.user
        system[group] += now.system - then.system
        count[group] += 1
    total = sum(user.values()) + sum(system.values())
    scale = 1e6 / CLOCK_TICKS / requests if requests else float("nan")
    rows = [
        {
            "threads": group,
            "count": count[group],
            "user_us": round(user[group] * scale, 1),
            "system_us": round(system[group] * scale, 1),
            "total_us": round((user[group] + system[group]) * scale, 1),
            "share": round((user[group] + system[group]) / total, 3) if total else 0.0,
        }
        for group in count
    ]
    return sorted(rows, key=lambda row: -float(row["total_us"]))


# -- py-spy samples -----------------------------------------------------------------------------


def read_raw(path: Path) -> Counter[tuple[str, ...]]:
    """py-spy's raw (collapsed) output: each stack, root first, with its sample count. A
    sample with no Python frame at all (native code holding the GIL outside any Python call,
    e.g. Granian's Rust between two calls into the app) gets the frame ``NO_PYTHON``."""
    stacks: Counter[tuple[str, ...]] = Counter()
    for line in path.read_text().splitlines():
        frames, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        kept = tuple(f for f in frames.split(";") if f and not f.startswith("process "))
        stacks[kept or (NO_PYTHON,)] += int(count)
    return stacks


def frame_function(frame: str) -> str:
    """The function of ``func (file:line)``."""
    return frame.rpartition(" (")[0] or frame


def frame_file(frame: str) -> str:
    """The file of ``func (file:line)``, without the line."""
    inside = frame.rpartition(" (")[2].rstrip(")")
    return re.sub(r":\d+$", "", inside)


def frame_module(frame: str) -> str:
    """Where self time is summed: the project's modules one by one, else the top package."""
    if frame == NO_PYTHON:
        return frame
    file = frame_file(frame)
    if file.startswith("<"):
        return file
    if not file.endswith(".py"):
        return "(unreadable sample)"  # --nonblocking read a frame while it changed
    parts = file.removesuffix(".py").split("/")
    if parts[0] in OWN_PACKAGES:
        return ".".join(parts)
    return parts[0]


def rank(
    stacks: Counter[tuple[str, ...]], top: int, us_per_sample: float | None, focus: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """The frames with most self and most cumulative samples, self samples by module, and the
    cumulative samples of each function named in ``focus``."""
    own: Counter[str] = Counter()
    cumulative: Counter[str] = Counter()
    modules: Counter[str] = Counter()
    focused: Counter[str] = Counter({name: 0 for name in focus})
    for stack, count in stacks.items():
        own[stack[-1]] += count
        modules[frame_module(stack[-1])] += count
        for frame in set(stack):
            cumulative[frame] += count
        for name in {frame_function(frame) for frame in stack} & set(focus):
            focused[name] += count
    total = sum(stacks.values())

    def row(frame: str, n: int) -> dict[str, Any]:
        return {
            "frame": frame,
            "samples": n,
            "percent": round(100 * n / total, 1) if total else 0.0,
            "us_per_req": round(n * us_per_sample, 1) if us_per_sample is not None else None,
        }

    return {
        "self": [row(f, n) for f, n in own.most_common(top)],
        "cumulative": [row(f, n) for f, n in cumulative.most_common(top)],
        "modules": [row(f, n) for f, n in modules.most_common()],
        "focus": [row(name, focused[name]) for name in focus],
    }


# -- one server -------------------------------------------------------------------------------


@contextlib.contextmanager
def started(name: str, args: argparse.Namespace, folder: Path) -> Iterator[ServerProcess]:
    port = free_port()
    argv = [console_script("letta-mock"), "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--agent", AGENT_ID, *SERVERS[name]]
    server = ServerProcess(
        name, pinned_argv(argv, args.server_cpus), port, log_path=folder / f"{name}.log"
    )
    server.start()
    try:
        check_pinned(server, args.server_cpus)
        yield server
    finally:
        server.stop()


def wrk(server: ServerProcess, script: str, args: argparse.Namespace, seconds: float) -> WrkResult:
    return run_wrk(
        server.base_url,
        script,
        connections=args.connections,
        seconds=seconds,
        threads=args.wrk_threads,
    )


def profile_server(name: str, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    with started(name, args, folder) as server:
        post = post_script(async_path(), realistic_body_text(), AUTH_HEADERS)
        script = post
        if args.warmup > 0:
            wrk(server, post, args, args.warmup)
        if args.endpoint == "get":
            ids = create_runs(server.host, server.port, GET_IDS)
            script = get_script([f"/v1/runs/{run_id}" for run_id in ids], AUTH_HEADERS)
            if args.warmup > 0:
                wrk(server, script, args, args.warmup)
        worker = _worker(server.pid)
        names = python_thread_names(worker)

        machine_before = cpu_ticks()
        cpu_before, threads_before = server.cpu_seconds(), thread_times(server.pid)
        plain = wrk(server, script, args, args.seconds)
        cpu_after, threads_after = server.cpu_seconds(), thread_times(server.pid)
        machine = machine_share(machine_before, cpu_ticks(), parse_cpus(args.server_cpus))
        threads = per_thread(threads_before, threads_after, worker, names, plain.requests)

        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        RESULTS.mkdir(parents=True, exist_ok=True)
        raw = RESULTS / f"profile_mock-{name}-{args.endpoint}-{stamp}.txt"
        # Only the thread holding the GIL; without pausing the process (paused at each
        # sample, waitress with its eight threads served a third of its requests at 250 Hz);
        # by function, not by line.
        record = [py_spy(), "record", "--pid", str(worker), "--gil", "--nonblocking"]
        record += ["--function", "--format", "raw", "--rate", str(args.rate)]
        record += ["--duration", str(round(args.seconds)), "--output", str(raw)]
        spy = subprocess.Popen(record, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            # The load starts first and outlasts the sampling, so every sample is under load.
            profiled = wrk(server, script, args, args.seconds + 2)
            spy_log, _ = spy.communicate(timeout=60)
        finally:
            if spy.poll() is None:
                spy.kill()
                spy.wait()
        if spy.returncode != 0 or not raw.exists():
            raise RuntimeError(f"py-spy record failed ({spy.returncode}): {spy_log.strip()}")
    stacks = read_raw(raw)
    samples = sum(stacks.values())
    sampled_requests = profiled.requests_per_second * round(args.seconds)
    us_per_sample = 1e6 / args.rate / sampled_requests if sampled_requests else float("nan")
    return {
        "server": name,
        "endpoint": args.endpoint,
        "connections": args.connections,
        "rps": plain.requests_per_second,
        "p50_ms": plain.p50_ms,
        "p99_ms": plain.p99_ms,
        "errors": plain.non_2xx_3xx + plain.socket_errors + plain.timeouts,
        "cpu_us_per_req": round((cpu_after - cpu_before) / plain.requests * 1e6, 1)
        if plain.requests
        else None,
        "server_cpus_busy": machine["busy"],
        "server_cpus_steal": machine["steal"],
        "rps_under_py_spy": profiled.requests_per_second,
        "gil_samples": samples,
        "gil_held_share": round(samples / (args.rate * round(args.seconds)), 3),
        "gil_us_per_req": round(samples * us_per_sample, 1),
        "py_spy_log": [line for line in spy_log.splitlines() if "behind" in line],
        "raw_profile": str(raw),
        "threads": threads,
        **rank(stacks, args.top, us_per_sample, args.focus),
    }


def machine_share(
    before: dict[int, tuple[int, int, int]], after: dict[int, tuple[int, int, int]], cpus: set[int]
) -> dict[str, float]:
    """How busy ``cpus`` were over an interval, and what share the hypervisor took."""
    ticks = ticks_between(before, after, cpus)
    return {"busy": ticks.busy_share, "steal": ticks.steal}


def show(result: dict[str, Any]) -> str:
    name, endpoint = result["server"], result["endpoint"].upper()
    head = (
        f"== {name}: {endpoint} at {result['connections']} connections, server on one core\n"
        f"unprofiled: {result['rps']:,.0f} req/s, p50 {result['p50_ms']:.1f} ms, "
        f"p99 {result['p99_ms']:.1f} ms, {result['cpu_us_per_req']} µs CPU/request, "
        f"{result['errors']} errors; the server's CPU busy "
        f"{100 * result['server_cpus_busy']:.0f}%, stolen by the hypervisor "
        f"{100 * result['server_cpus_steal']:.0f}%\n"
        f"under py-spy: {result['rps_under_py_spy']:,.0f} req/s; GIL held "
        f"{100 * result['gil_held_share']:.0f}% of the time "
        f"({result['gil_samples']:,} samples, ~{result['gil_us_per_req']} µs/request)"
    )
    if result["py_spy_log"]:
        head += "\npy-spy: " + "; ".join(result["py_spy_log"][-1:])
    parts = [
        head,
        "CPU by thread (unprofiled run, µs per request):",
        table(result["threads"], ["threads", "count", "user_us", "system_us", "total_us", "share"]),
        "Top frames by self time (GIL held):",
        table(result["self"], ["frame", "samples", "percent", "us_per_req"]),
        "Top frames by cumulative time (GIL held):",
        table(result["cumulative"], ["frame", "samples", "percent", "us_per_req"]),
        "Self time by module (GIL held):",
        table(result["modules"], ["frame", "samples", "percent", "us_per_req"]),
        "Cumulative time of chosen functions (GIL held; --focus):",
        table(result["focus"], ["frame", "samples", "percent", "us_per_req"]),
    ]
    return "\n\n".join(parts)


def show_raw(path: Path, args: argparse.Namespace) -> str:
    """The rankings of a raw file kept from an earlier run, in shares of its samples."""
    stacks = read_raw(path)
    ranked = rank(stacks, args.top, None, args.focus)
    parts = [f"== {path.name}: {sum(stacks.values()):,} samples"]
    for title, key in (
        ("Top frames by self time", "self"),
        ("Top frames by cumulative time", "cumulative"),
        ("Self time by module", "modules"),
        ("Cumulative time of chosen functions", "focus"),
    ):
        parts += [f"{title}:", table(ranked[key], ["frame", "samples", "percent"])]
    return "\n\n".join(parts)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.profile_mock", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--servers", nargs="+", default=list(SERVERS), choices=list(SERVERS))
    parser.add_argument("--endpoint", choices=["post", "get"], default="post")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=30.0, help="each measured wrk run")
    parser.add_argument("--warmup", type=float, default=5.0, help="unmeasured load first")
    parser.add_argument("--rate", type=int, default=100, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=20, help="frames in each ranking")
    parser.add_argument(
        "--focus",
        nargs="+",
        default=list(FOCUS),
        metavar="FUNCTION",
        help="functions (as py-spy names them: Class.method) whose cumulative time is shown",
    )
    parser.add_argument(
        "--read",
        nargs="+",
        type=Path,
        metavar="RAW",
        help="rank raw py-spy files kept from earlier runs instead of profiling",
    )
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--server-cpus", default="0", help="the server's CPUs (taskset -c)")
    parser.add_argument("--load-cpus", default="1", help="wrk's, py-spy's and this script's")
    args = parser.parse_args(argv)
    if parse_cpus(args.server_cpus) & parse_cpus(args.load_cpus):
        parser.error("--server-cpus and --load-cpus must not share a CPU")
    args.seconds = max(1.0, float(round(args.seconds)))
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.read:
        for path in args.read:
            print(show_raw(path, args), end="\n\n")
        return 0
    results: list[dict[str, Any]] = []
    try:
        version = wrk_version()
        py_spy()
        with (
            tempfile.TemporaryDirectory(prefix="letta-profile-") as folder,
            affinity(args.load_cpus),
        ):
            for name in args.servers:
                print(f"profiling {name} ...", file=sys.stderr, flush=True)
                try:
                    results.append(profile_server(name, args, Path(folder)))
                except (RuntimeError, subprocess.SubprocessError) as exc:
                    log = Path(folder) / f"{name}.log"
                    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                    print(f"{name} failed: {exc}\n{tail}", file=sys.stderr)
                    return 1
    except MissingTool as exc:
        print(f"missing: {exc}", file=sys.stderr)
        return 2
    for result in results:
        print(show(result), end="\n\n")
    path = write_results(
        "profile_mock",
        {
            "settings": vars(args),
            "source_digest": source_digest(),
            "wrk": version,
            "results": results,
        },
    )
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
