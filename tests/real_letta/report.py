"""Run the differential corpus against the mock and a real Letta server; write a Markdown report.

    python tests/real_letta/report.py --out docs/differential-letta-0.16.8.md

The real server is found as in the tests (``LETTA_REAL_BASE_URL``/``LETTA_REAL_AGENT_ID``,
else ``/tmp/letta-real/run/env``, loopback only); the mock profile is ``--profile``, else
``LETTA_MOCK_PROFILE``, else the compatibility profile when the mock has one; ``--quirk`` and
``--no-quirk`` switch single quirks. Every difference is listed, attributed to a named quirk
of the real server, a mock bug, a difference of set-up, or nothing (see ``findings``).
``--json FILE`` also keeps the raw results; ``--replay FILE`` renders them again without
running anything (to work on the findings). Exit status: 0 no difference, 1 differences
found, 2 no usable real server or mock.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import sys
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import requests  # noqa: E402
from differential import CaseResult, Difference, corpus, run_corpus, select  # noqa: E402
from findings import ALREADY_ALIKE, FINDINGS, Finding, attribute  # noqa: E402
from real_letta_server import RealLetta, saved_settings  # noqa: E402
from sides import (  # noqa: E402
    MOCK_CLOCK,
    REAL_AGENT_PREFIX,
    chosen_profile,
    compared_servers,
    mock_config,
    quirks_in_force,
)

EVIDENCE_ROWS = 6
ALSO_IN = 12
CELL = 140


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


@dataclass(frozen=True)
class Outcome:
    """One case's result, as the report needs it (and as ``--json`` stores it)."""

    name: str
    purpose: str
    runs_created: int
    differences: list[Difference]

    @property
    def group(self) -> str:
        return self.name.split("/", 1)[0]

    @classmethod
    def of(cls, result: CaseResult) -> Outcome:
        return cls(
            result.case.name, result.case.purpose, result.real.runs_created, result.differences
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Outcome:
        found = [Difference(**d) for d in data["differences"]]
        return cls(data["name"], data["purpose"], int(data["runs_created"]), found)


@dataclass(frozen=True)
class Run:
    """Where and how the comparison ran."""

    profile: str
    quirks: list[str] | None
    note: str
    when: str
    command: str
    real_base_url: str
    real_version: str
    seconds: float
    outcomes: list[Outcome]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Run:
        data = json.loads(text)
        outcomes = [Outcome.from_json(o) for o in data.pop("outcomes")]
        return cls(outcomes=outcomes, **data)


def cell(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if len(text) > CELL:
        text = text[: CELL - 3] + "..."
    text = text.replace("|", "\\|").replace("\n", "\\n")
    return f"`{text}`" if text else "` `"


def table(rows: Iterable[Difference], with_case: bool) -> list[str]:
    head = ["case"] if with_case else []
    lines = [
        "| " + " | ".join([*head, "aspect", "where", "mock", "real"]) + " |",
        "|" + "---|" * (len(head) + 4),
    ]
    for d in rows:
        first = [f"`{d.case}`"] if with_case else []
        lines.append(
            "| "
            + " | ".join([*first, d.aspect, f"`{d.path}`", cell(d.mock_value), cell(d.real_value)])
            + " |"
        )
    return lines


def observation_of(path: str) -> str:
    """The observation a difference is in: ``post.body.id`` -> ``post.body``."""
    return ".".join(re.split(r"[.\[]", path)[:2])


def evidence(found: list[Difference]) -> list[Difference]:
    """A few differences that show a finding: one per observation first, then the rest."""
    shown: list[Difference] = []
    seen: set[str] = set()
    for d in found:
        if observation_of(d.path) not in seen:
            seen.add(observation_of(d.path))
            shown.append(d)
    for d in found:
        if d not in shown:
            shown.append(d)
    return shown[:EVIDENCE_ROWS]


def finding_section(finding: Finding, found: list[Difference]) -> list[str]:
    cases = sorted({d.case for d in found})
    lines = [f"### `{finding.name}`", "", finding.real, ""]
    if finding.mock:
        lines += [f"*Mock now:* {finding.mock}", ""]
    if finding.reproduce:
        lines += [f"*To reproduce:* {finding.reproduce}", ""]
    if not found:
        lines += ["*Evidence:* no difference of this kind in this run.", ""]
        return lines
    shown = evidence(found)
    lines += [f"*Evidence* ({plural(len(found), 'difference')} in {plural(len(cases), 'case')}):"]
    lines += ["", *table(shown, with_case=True)]
    others = [c for c in cases if c not in {d.case for d in shown}]
    if others:
        named = ", ".join(f"`{c}`" for c in others[:ALSO_IN])
        more = len(others) - ALSO_IN
        lines += ["", f"Also in: {named}" + (f" and {more} more cases." if more > 0 else ".")]
    lines.append("")
    return lines


def markdown(run: Run) -> str:
    results = run.outcomes
    attributed: dict[str, list[Difference]] = defaultdict(list)
    unexplained: list[Difference] = []
    for result in results:
        for d in result.differences:
            finding = attribute(d)
            if finding is None:
                unexplained.append(d)
            else:
                attributed[finding.name].append(d)
    total = sum(len(r.differences) for r in results)
    differing = [r for r in results if r.differences]
    groups: dict[str, int] = defaultdict(int)
    for r in results:
        groups[r.group] += 1
    by_kind = {
        kind: [f for f in FINDINGS if f.kind == kind] for kind in ("quirk", "bug", "environment")
    }

    def tally(kind: str) -> str:
        chosen = by_kind[kind]
        count = sum(len(attributed[f.name]) for f in chosen)
        named = sum(1 for f in chosen if attributed[f.name])
        return f"{count} from {named} {kind} findings"

    if run.quirks is None:
        quirk_text = "(this mock version has no named quirks)"
    else:
        quirk_text = ", ".join(f"`{q}`" for q in run.quirks) or "none"
    out: list[str] = [
        f"# Differential test: letta-mock (profile `{run.profile}`) vs a real Letta "
        f"{run.real_version}",
        "",
        f"Written by `{run.command}` on {run.when}.",
        "",
        f"* **Mock compared:** letta-mock, profile **`{run.profile}`**, quirks in force: "
        f"{quirk_text}; clock `{MOCK_CLOCK}` (each GET of a run moves it one phase); "
        f"in-process on 127.0.0.1.{' ' + run.note if run.note else ''}",
        f"* **Real server:** Letta {run.real_version} at {run.real_base_url} (`letta server` "
        "with the fake LLM of `../shared/tools/real-letta`, PostgreSQL, no Redis), with an "
        f"agent made for this comparison (`{REAL_AGENT_PREFIX}-<8 hex>`, `letta_v1_agent`, the "
        "configured agent's model `openai-proxy/gpt-4o-mini`) and deleted after it, so other "
        "tests' runs do not interfere.",
        f"* **Corpus:** {len(results)} cases ("
        + ", ".join(f"{g} {n}" for g, n in groups.items())
        + f"); {sum(r.runs_created for r in results)} runs created on the real server; "
        f"{run.seconds:.0f} s.",
        f"* **Result:** {len(results) - len(differing)} cases answered alike, {len(differing)} "
        f"differ; {total} differences: {tally('quirk')}, {tally('bug')}, "
        f"{tally('environment')}, {len(unexplained)} not attributed.",
        "",
        "## How to read this",
        "",
        "Each case is a short sequence (send a request, poll the run it created to its end, list "
        "its messages, wait for its callback, cancel, ...) played against both servers at once. "
        "Observations are named `<step>.<what>`: `post.status`, `post.body`, `poll.statuses` "
        "(statuses seen, starting with the POST answer), `poll.fields_changing_together` (the "
        "keys that changed between consecutive snapshots), `poll.terminal` (the first "
        "terminal snapshot), `poll.last` (the last one, after waiting for callbacks or a "
        "settling time), `listed.item` (the run in `GET /v1/runs/`), `messages.types` and "
        "`messages.one_of_each_type` (`GET /v1/runs/{id}/messages`), `steps.*`, `usage.body`, "
        "`callback.*` (what the callback receiver got). Status codes, headers and sequences "
        "are compared literally; bodies by shape: same keys in the same order, same JSON types "
        "and null-ness, same enum values and echoed request values (`request_config`, "
        "`callback_url`), same formats of ids and timestamps, never the generated values "
        "themselves. Ids made for the case appear as `⟨run⟩`, `⟨agent⟩`, `⟨unknown_run⟩`, "
        "`⟨receiver⟩` (this case's callback URL) and `⟨base⟩` (the server's base URL).",
        "",
        "Aspects: `value` (literal difference), `type`, `null` (null on one side only), "
        "`missing-key` (only the real answer has it), `extra-key` (only the mock's has it), "
        "`key-order`, `format`, `length`, `missing-observation` / `extra-observation` (one "
        "side produced no such observation, e.g. no run to poll after a 422).",
        "",
        "Each difference is attributed to one finding, the most specific that explains it, "
        "so one difference may also reflect other findings (a 422 instead of a run hides "
        "every later observation). Reproduce: `tox -e real-letta` (the tests), or this "
        "script; one case with `--case NAME-PREFIX`; the mock profile with `--profile` or "
        "`LETTA_MOCK_PROFILE`.",
        "",
        "Contents: [every difference, case by case](#every-difference-case-by-case); "
        "[cases answered alike](#cases-answered-alike); at the end, what they mean: "
        f"[the quirks a `letta-{run.real_version}` profile must reproduce]"
        f"(#quirks-a-letta-{run.real_version.replace('.', '')}-compatibility-profile-must-"
        "reproduce), [mock bugs](#mock-bugs-wrong-even-under-the-documented-contract), "
        "[differences due to the set-up](#differences-due-to-the-set-up-not-the-contract) and "
        "[differences not attributed](#differences-not-attributed-to-any-finding).",
        "",
        "## Every difference, case by case",
        "",
    ]
    for result in results:
        if not result.differences:
            continue
        out += [
            f"### `{result.name}`",
            "",
            f"{result.purpose}. {len(result.differences)} differences.",
            "",
        ]
        out += table(result.differences, with_case=False)
        out.append("")
    alike = [r.name for r in results if not r.differences]
    out += ["## Cases answered alike", ""]
    out.append(", ".join(f"`{n}`" for n in alike) if alike else "None.")
    out += [
        "",
        f"## Quirks a `letta-{run.real_version}` compatibility profile must reproduce",
        "",
        "Each is a departure of the real server from (or an addition to) the documented "
        "contract. The profile should name each one and let it be switched on and off alone.",
        "",
        "| quirk | differences | cases |",
        "|---|---|---|",
    ]
    for finding in by_kind["quirk"]:
        found = attributed[finding.name]
        out.append(f"| `{finding.name}` | {len(found)} | {len({d.case for d in found})} |")
    out.append("")
    for finding in by_kind["quirk"]:
        out += finding_section(finding, attributed[finding.name])
    out += [
        "### Already alike (no profile work needed)",
        "",
        "Real-server behaviours the mock already reproduces in its default profile; the "
        "corpus checks them and found no difference.",
        "",
    ]
    out += [f"* `{name}`: {text}" for name, text in ALREADY_ALIKE]
    out += [
        "",
        "## Mock bugs (wrong even under the documented contract)",
        "",
        "Not quirks: the mock should change in every profile.",
        "",
    ]
    for finding in by_kind["bug"]:
        out += finding_section(finding, attributed[finding.name])
    out += [
        "## Differences due to the set-up, not the contract",
        "",
        "They come from the fake LLM behind the real server. A profile may imitate them; "
        "none has to. The differential test does not fail on them (the report lists them).",
        "",
    ]
    for finding in by_kind["environment"]:
        out += finding_section(finding, attributed[finding.name])
    out += ["## Differences not attributed to any finding", ""]
    if unexplained:
        out += table(unexplained, with_case=True)
    else:
        out.append("None.")
    out.append("")
    return "\n".join(out)


def real_server() -> RealLetta | str:
    saved = saved_settings()
    base_url = os.environ.get("LETTA_REAL_BASE_URL", saved.get("BASE_URL", ""))
    agent_id = os.environ.get("LETTA_REAL_AGENT_ID", saved.get("AGENT_ID", ""))
    if not base_url or not agent_id:
        return "no real Letta server configured (start one with ../shared/tools/real-letta)"
    host = urlsplit(base_url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        return f"the differential test only talks to loopback, not {host}"
    return RealLetta(base_url.rstrip("/"), agent_id)


def compare_now(
    profile: str, quirks: list[str], no_quirks: list[str], patterns: list[str], note: str
) -> Run | str:
    """Play the corpus against both servers (a sentence saying why not, when it cannot)."""
    real = real_server()
    if isinstance(real, str):
        return real
    try:
        health = requests.get(f"{real.base_url}/v1/health/", timeout=5)
        health.raise_for_status()
        version = str(health.json().get("version", "?"))
    except (requests.RequestException, ValueError) as exc:
        return f"the real server at {real.base_url} is not answering: {exc}"
    try:
        config = mock_config(profile, quirks, no_quirks)
    except ValueError as exc:
        return f"mock profile {profile!r}: {exc}"
    cases = select(corpus(), patterns)
    started = time.monotonic()

    def progress(result: CaseResult) -> None:
        mark = "=" if not result.differences else f"{len(result.differences)}"
        took = max(result.mock.seconds, result.real.seconds)
        print(f"{mark:>3} {took:5.1f}s  {result.case.name}", file=sys.stderr, flush=True)

    with compared_servers(real, config) as sides:
        results = run_corpus(cases, sides.mock, sides.real, sides.recorder, progress)
    outcomes = [Outcome.of(r) for r in results]
    seconds = time.monotonic() - started
    in_force = quirks_in_force(config)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = shlex.join(["python", "tests/real_letta/report.py", *sys.argv[1:]])
    return Run(profile, in_force, note, when, command, real.base_url, version, seconds, outcomes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=Path("docs/differential-letta-0.16.8.md"))
    parser.add_argument("--profile", default=None, help="mock profile (default: see module doc)")
    parser.add_argument("--case", action="append", default=[], help="only cases with this prefix")
    parser.add_argument("--quirk", action="append", default=[], help="switch a quirk on")
    parser.add_argument("--no-quirk", action="append", default=[], help="switch a quirk off")
    parser.add_argument("--note", default="", help="a sentence to add about the mock compared")
    parser.add_argument("--json", type=Path, default=None, help="also write the raw results here")
    parser.add_argument(
        "--replay", type=Path, default=None, help="re-render raw results written by --json"
    )
    args = parser.parse_args(argv)
    if args.replay is not None:
        run = Run.from_json(args.replay.read_text("utf-8"))
    else:
        profile = chosen_profile(args.profile)
        found = compare_now(profile, args.quirk, args.no_quirk, args.case, args.note)
        if isinstance(found, str):
            print(found, file=sys.stderr)
            return 2
        run = found
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(markdown(run), "utf-8")
    if args.json is not None and args.replay is None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(run.to_json(), "utf-8")
    total = sum(len(o.differences) for o in run.outcomes)
    differing = sum(1 for o in run.outcomes if o.differences)
    unexplained = sum(1 for o in run.outcomes for d in o.differences if attribute(d) is None)
    print(
        f"{len(run.outcomes)} cases, {differing} differ, {total} differences "
        f"({unexplained} not attributed), {sum(o.runs_created for o in run.outcomes)} real "
        f"runs, {run.seconds:.0f} s -> {args.out}",
        file=sys.stderr,
    )
    return 1 if total else 0


if __name__ == "__main__":
    raise SystemExit(main())
