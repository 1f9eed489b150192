"""Every example payload of the four documentation versions, judged by both readings.

The payloads are data in ``doc_examples.json``, each with the version it comes from, the
schema it is an instance of, the expected verdict and, when a reading rejects it, why.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from letta_contract_kit.schemas import Verdict, classify, names
from letta_contract_kit.schemas.versions import DOC_VERSIONS

DATA = json.loads((Path(__file__).parent / "doc_examples.json").read_text("utf-8"))
EXAMPLES: list[dict[str, Any]] = DATA["examples"]
VERSION_KEYS = [version.key for version in DOC_VERSIONS]


def test_every_documentation_version_is_accounted_for() -> None:
    assert sorted(DATA["versions"]) == sorted(VERSION_KEYS)
    with_examples = {example["version"] for example in EXAMPLES}
    without = set(VERSION_KEYS) - with_examples
    for key in without:
        assert "no example" in DATA["versions"][key], key


def test_example_ids_are_unique_and_name_their_version() -> None:
    ids = [example["id"] for example in EXAMPLES]
    assert len(set(ids)) == len(ids)
    assert all(example["id"].startswith(f"{example['version']}-") for example in EXAMPLES)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e["id"])
def test_documentation_example_is_classified_as_expected(example: dict[str, Any]) -> None:
    assert example["schema"] in names()
    result = classify(example["schema"], example["example"])
    assert result.verdict is Verdict[example["expected"]], [*result.documented, *result.server]


@pytest.mark.parametrize(
    "example", [e for e in EXAMPLES if e["expected"] != "VALID"], ids=lambda e: e["id"]
)
def test_an_example_rejected_by_a_reading_says_why_and_where(example: dict[str, Any]) -> None:
    assert example["reason"].strip()
    result = classify(example["schema"], example["example"])
    rejecting = result.server if result.server else result.documented
    found = {tuple(p.location) for p in rejecting}
    expected = {tuple(location) for location in example["problems_include"]}
    assert expected, "name at least one location the rejecting reading complains about"
    assert expected <= found


def test_the_newest_versions_example_run_is_valid_only_as_documented() -> None:
    (example,) = [e for e in EXAMPLES if e["id"] == "001-example-run"]
    result = classify("run", example["example"])
    assert result.verdict is Verdict.DOCUMENTED_ONLY


def test_the_example_runs_agent_id_placeholder_is_not_an_agent_id() -> None:
    (example,) = [e for e in EXAMPLES if e["id"] == "001-example-run"]
    assert example["example"]["agent_id"] == "agent_id"
    assert classify("agent-id", example["example"]["agent_id"]).verdict is Verdict.INVALID


def test_the_server_reading_rejects_a_run_whose_agent_id_is_not_an_agent_id() -> None:
    # A Run's agent_id is the path id the route validated: always 'agent-<uuid4>'.
    (example,) = [e for e in EXAMPLES if e["id"] == "001-example-run"]
    run = {**example["example"], "id": "run-4b3f1e0a-9c2d-4e5f-8a6b-7c8d9e0f1a2b"}
    result = classify("run", run)
    assert {p.location for p in result.server} == {("agent_id",)}
