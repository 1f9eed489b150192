"""The contract suite's speed, and the suite beside Schemathesis over deliberately broken servers.

Two measurements:

* **Quick profile**: ``letta-contract run --profile quick`` against ``letta-mock`` (default
  settings, one seeded agent), each as its own process, three times: wall time, cases and
  cases per second, and whether the mock conformed. Goal: under 60 s.
* **Broken servers**: both tools get the same servers (the mock's app behind the middlewares
  of ``tests/suite/broken.py``); Schemathesis reads the OpenAPI document the kit generates
  (``schemas.openapi.build_openapi``), with the path's ``agent_id`` pinned to the mock's agent
  so its valid requests reach a real agent. For each server the table says whether each tool
  reported something it does not report against the unbroken mock, what, and how long it
  took.

Schemathesis is not a dependency of the kit: ``pip install schemathesis`` first.

    python -m benchmarks.suite_vs_schemathesis [--only NAME] [--max-examples N] [--quick-only]

Prints the tables and writes ``benchmarks/results/suite_vs_schemathesis-<UTC time>.json``.
Times depend on the machine; read the ratios, not the seconds.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from suite.broken import BROKEN, Broken, serve  # noqa: E402

from benchmarks.processes import ServerProcess, console_script, free_port  # noqa: E402
from benchmarks.report import table, verdict, write_results  # noqa: E402
from letta_contract_kit.contract_tests.config import SuiteConfig  # noqa: E402
from letta_contract_kit.contract_tests.engine import run_suite  # noqa: E402
from letta_contract_kit.schemas.openapi import build_openapi  # noqa: E402

SEED = 1
QUICK_REPEATS = 3
GOAL_QUICK_SECONDS = 60.0
BASELINE_SEEDS = (1, 2, 3)
ASYNC = "POST /v1/agents/{agent_id}/messages/async"
RUN = "GET /v1/runs/{run_id}"
LIST = "GET /v1/runs/"
ANY = ""
# Where each break can be seen: a Schemathesis finding on another operation is not about it.
CANCEL = "POST /v1/agents/{agent_id}/messages/cancel"
AFFECTED: dict[str, tuple[str, ...]] = {
    "drops agent_id": (ASYNC, RUN, LIST),
    "naive timestamps": (ASYNC, RUN, LIST),
    "200 for a malformed agent id": (ASYNC,),
    "500 on a reasoning part": (ASYNC,),
    "201 instead of 200": (ASYNC,),
    "status goes backwards": (RUN,),
    "completed_at while created": (ASYNC, RUN, LIST),
    "unknown stop_reason": (RUN, LIST),
    "runs never finish": (RUN, LIST),
    "cancel does not stick": (RUN,),
    "422 for a valid ImageContent": (ASYNC,),
    "listing disagrees with retrieve": (LIST,),
    "HTML error bodies": (ANY,),
    "400 for an invalid body": (ASYNC,),
    "unshaped 422 body": (ANY,),
    "negative duration": (RUN, LIST),
    "completed before created": (RUN, LIST),
    "agent_id not echoed": (ASYNC, RUN, LIST),
    "callback_status_code wrong": (RUN, LIST),
    "request_config not echoed": (ASYNC, RUN, LIST),
    "listing ignores agent_id": (LIST,),
    "listing ignores statuses": (LIST,),
    "listing ignores stop_reason": (LIST,),
    "listing ignores conversation_id": (LIST,),
    "listing ignores after": (LIST,),
    "listing ignores active": (LIST,),
    "order=asc lists newest first": (LIST,),
    "limit off by one": (LIST,),
    "cancel answers a list": (CANCEL,),
    "a bare cancel reaches other agents": (CANCEL, RUN),
    "cancel reopens an ended run": (CANCEL, RUN),
    "500 on a NUL character": (ASYNC,),
    "422 for an empty string": (ASYNC,),
    "malformed JSON accepted": (ASYNC,),
    "415 for a charset": (ASYNC,),
}


@dataclass
class Outcome:
    seconds: float
    findings: set[str]
    error: str | None = None


def our_suite(url: str, agent_id: str, options: dict[str, Any]) -> Outcome:
    config = SuiteConfig(
        base_url=url,
        agent_id=agent_id,
        seed=SEED,
        rate_limit=None,
        poll_interval=0.0,
        cancel_settle=0.5,
        run_deadline=float(options.get("run_deadline", 10.0)),
    )
    started = time.monotonic()
    result = run_suite(config)
    return Outcome(
        time.monotonic() - started,
        {v.check for v in result.violations},
        "; ".join(result.errors) or None,
    )


def schemathesis(
    url: str, agent_id: str, workdir: Path, max_examples: int, seed: int = SEED
) -> Outcome:
    binary = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    if binary is None:
        return Outcome(0.0, set(), "schemathesis is not installed (pip install schemathesis)")
    spec, config, junit = workdir / "openapi.json", workdir / "st.toml", workdir / "junit.xml"
    spec.write_text(json.dumps(build_openapi(url)))
    config.write_text(f'[parameters]\n"path.agent_id" = "{agent_id}"\n')
    junit.unlink(missing_ok=True)
    command = [
        binary,
        "--config-file",
        str(config),
        "run",
        str(spec),
        "--url",
        url,
        "--checks",
        "all",
        "--max-examples",
        str(max_examples),
        "--seed",
        str(SEED),
        "--workers",
        "1",
        "--no-color",
        "--generation-database",
        "none",
        "--report",
        "junit",
        "--report-junit-path",
        str(junit),
    ]
    started = time.monotonic()
    run = subprocess.run(command, capture_output=True, text=True, cwd=workdir, timeout=900)
    seconds = time.monotonic() - started
    if not junit.exists():
        return Outcome(seconds, set(), f"exit {run.returncode}: {run.stdout[-300:]}")
    return Outcome(seconds, _junit_findings(junit))


def _junit_findings(path: Path) -> set[str]:
    """``operation: STxxx [status]`` for every failing test case Schemathesis reports."""
    found: set[str] = set()
    for case in ET.parse(path).getroot().iter("testcase"):
        for failure in case:
            if failure.tag not in ("failure", "error"):
                continue
            blocks = (failure.text or "").split("Test Case ID:")[1:]
            for block in blocks or [failure.get("message") or failure.tag]:
                codes = re.findall(r"ST\d{3}", block) or [block.strip()[:40]]
                status = re.search(r"\[(\d{3})\]", block)
                shown = f" [{status.group(1)}]" if status else ""
                found.update(f"{case.get('name')}: {code}{shown}" for code in codes)
    return found


@contextmanager
def target(broken: Broken | None) -> Iterator[tuple[str, str]]:
    agent_id = f"agent-{uuid.uuid4()}"
    wrap: Callable[[Any], Any] | None = broken.make(agent_id) if broken else None
    with serve(wrap, agent_id) as url:
        yield url, agent_id


def quick_profile(workdir: Path, repeats: int = QUICK_REPEATS) -> list[dict[str, Any]]:
    """``letta-contract run --profile quick`` against a fresh ``letta-mock``, ``repeats`` times."""
    mock, suite = console_script("letta-mock"), console_script("letta-contract")
    runs: list[dict[str, Any]] = []
    for attempt in range(repeats):
        agent_id, port = f"agent-{uuid.uuid4()}", free_port()
        argv = [mock, "--port", str(port), "--agent", agent_id]
        report = workdir / f"quick-{attempt}.json"
        with ServerProcess("letta-mock", argv, port, log_path=workdir / "mock.log") as server:
            command = [suite, "run", "--base-url", server.base_url, "--agent-id", agent_id]
            command += ["--profile", "quick", "--report", str(report)]
            started = time.monotonic()
            done = subprocess.run(command, capture_output=True, text=True, timeout=600)
            seconds = time.monotonic() - started
        found = json.loads(report.read_text()) if report.exists() else {}
        cases = int(found.get("cases", 0))
        runs.append(
            {
                "seconds": round(seconds, 2),
                "exit_code": done.returncode,
                "conforming": found.get("conforming"),
                "cases": cases,
                "requests": found.get("requests"),
                "runs_created": found.get("runs_created"),
                "cases_per_second": round(cases / seconds, 1) if seconds else None,
            }
        )
        print(f"  quick profile run {attempt + 1}: {seconds:.1f} s", file=sys.stderr)
    return runs


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="run only the broken servers whose name contains this")
    parser.add_argument(
        "--quick-repeats", type=int, default=QUICK_REPEATS, help="runs of the quick profile"
    )
    parser.add_argument(
        "--max-examples",
        type=int,
        default=20,
        help="Schemathesis examples per operation (default 20)",
    )
    parser.add_argument(
        "--quick-only",
        action="store_true",
        help="time the quick profile only (no broken servers, no Schemathesis)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    chosen = [b for b in BROKEN if not args.only or args.only in b.name]
    if args.quick_only:
        chosen = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        quick = quick_profile(workdir, args.quick_repeats)
        with target(None) as (url, agent):
            ours_base = our_suite(url, agent, {})
        st_base = Outcome(0.0, set())
        # Its findings on the unbroken mock vary with the seed.
        for seed in () if args.quick_only else BASELINE_SEEDS:
            with target(None) as (url, agent):
                one = schemathesis(url, agent, workdir, args.max_examples, seed)
            st_base.findings |= one.findings
            st_base.seconds = st_base.seconds or one.seconds
            st_base.error = st_base.error or one.error
        if st_base.error:
            print(f"Schemathesis could not run: {st_base.error}")
        rows = []
        for broken in chosen:
            with target(broken) as (url, agent):
                ours = our_suite(url, agent, broken.options)
            with target(broken) as (url, agent):
                theirs = schemathesis(url, agent, workdir, args.max_examples)
            rows.append((broken, ours, theirs))
            print(f"  done: {broken.name}", file=sys.stderr)
    summary = _table(rows, ours_base, st_base)
    print()
    print(table(quick, list(quick[0]) if quick else []))
    slowest = max((q["seconds"] for q in quick), default=None)
    all_conform = all(q["conforming"] for q in quick) if quick else None
    goals: list[dict[str, Any]] = [
        {
            "goal": "quick profile against the mock (s, slowest run)",
            "target": f"< {GOAL_QUICK_SECONDS:.0f}",
            "measured": slowest,
            "verdict": verdict(None if slowest is None else slowest < GOAL_QUICK_SECONDS),
        },
        {
            "goal": "the mock conforms in every quick run",
            "target": "yes",
            "measured": all_conform,
            "verdict": verdict(all_conform),
        },
        {
            "goal": "broken servers caught by the check owning the rule",
            "target": f"{len(rows)}/{len(rows)}",
            "measured": f"{summary['caught_ours']}/{len(rows)}",
            "verdict": verdict(summary["caught_ours"] == len(rows)) if rows else verdict(None),
        },
        {
            "goal": "broken servers with a new Schemathesis finding (reported)",
            "target": "-",
            "measured": f"{summary['caught_schemathesis']}/{len(rows)}",
            "verdict": "-",
        },
        {
            "goal": "Schemathesis time / our suite's time, in total (reported)",
            "target": "-",
            "measured": summary["time_ratio"],
            "verdict": "-",
        },
    ]
    print()
    print(table(goals, ["goal", "target", "measured", "verdict"]))
    path = write_results(
        "suite_vs_schemathesis",
        {
            "settings": vars(args),
            "quick_profile": quick,
            "baseline": {
                "ours": {
                    "seconds": round(ours_base.seconds, 2),
                    "findings": sorted(ours_base.findings),
                },
                "schemathesis": {
                    "seconds_one_run": round(st_base.seconds, 2),
                    "seeds": list(BASELINE_SEEDS),
                    "findings": sorted(st_base.findings),
                    "error": st_base.error,
                },
            },
            "broken": summary["rows"],
            "goals": goals,
        },
    )
    print(f"\nwritten: {path}")
    return 0


def _table(
    rows: list[tuple[Broken, Outcome, Outcome]], ours_base: Outcome, st_base: Outcome
) -> dict[str, Any]:
    """Print the broken-server table; the same figures, for the results file."""
    print()
    print(
        f"Unbroken mock: our suite {len(ours_base.findings)} finding(s) in "
        f"{ours_base.seconds:.1f} s; Schemathesis {len(st_base.findings)} finding(s) over "
        f"seeds {BASELINE_SEEDS} ({st_base.seconds:.1f} s for one run), e.g. "
        f"{'; '.join(sorted(st_base.findings)[:4])}"
    )
    print()
    header = (
        f"| {'broken server':32} | {'ours: caught by':30} | {'ours s':>6} | "
        f"{'Schemathesis: new findings on the affected routes':50} | {'ST s':>6} | "
        f"{'ST/ours':>7} |"
    )
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    caught_ours = caught_st = 0
    total_ours = total_st = 0.0
    recorded: list[dict[str, Any]] = []
    for broken, ours, theirs in rows:
        right = broken.check in ours.findings
        caught_ours += right
        new = sorted(
            f
            for f in theirs.findings - st_base.findings
            if any(f.startswith(f"{op}:") or op == ANY for op in AFFECTED.get(broken.name, (ANY,)))
        )
        caught_st += bool(new)
        total_ours += ours.seconds
        total_st += theirs.seconds
        label = broken.check if right else f"MISSED ({len(ours.findings)} other)"
        shown = "; ".join(new)[:50] if new else ("-" if not theirs.error else "error")
        ratio = theirs.seconds / ours.seconds if ours.seconds else float("nan")
        recorded.append(
            {
                "server": broken.name,
                "rule_check": broken.check,
                "ours_caught": right,
                "ours_findings": sorted(ours.findings),
                "ours_seconds": round(ours.seconds, 2),
                "schemathesis_new_findings": new,
                "schemathesis_seconds": round(theirs.seconds, 2),
                "schemathesis_error": theirs.error,
            }
        )
        print(
            f"| {broken.name[:32]:32} | {label[:30]:30} | {ours.seconds:6.1f} | {shown:50} | "
            f"{theirs.seconds:6.1f} | {ratio:7.1f} |"
        )
    n = len(rows)
    print()
    print(
        f"Caught: our suite {caught_ours}/{n} by the check owning the rule; Schemathesis "
        f"{caught_st}/{n} with a finding on an affected route that it never reports on the "
        f"unbroken mock (read the finding to judge whether it is about the broken rule)."
    )
    time_ratio = round(total_st / total_ours, 2) if total_ours else None
    if time_ratio is not None:
        print(f"Time: Schemathesis took {time_ratio:.1f}x our suite's time in total.")
    return {
        "rows": recorded,
        "caught_ours": caught_ours,
        "caught_schemathesis": caught_st,
        "time_ratio": time_ratio,
    }


if __name__ == "__main__":
    sys.exit(main())
