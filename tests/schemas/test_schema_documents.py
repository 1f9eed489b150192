"""The schema files themselves: well-formed, self-describing, resolvable offline."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator
from referencing.exceptions import Unresolvable
from schema_refs import refs_in

from letta_contract_kit import fixtures
from letta_contract_kit.schemas import (
    READINGS,
    Reading,
    names,
    raw,
    registry,
    resolved,
    schema,
    uri,
    validator,
)
from letta_contract_kit.schemas.loader import SERVER_ANNOTATION, annotated

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
EVERY_SCHEMA = names()
EVERY_READING = [(name, reading) for name in EVERY_SCHEMA for reading in READINGS]


def reading_id(case: tuple[str, Reading]) -> str:
    return f"{case[0]}[{case[1]}]"


@pytest.mark.parametrize("case", EVERY_READING, ids=reading_id)
def test_every_schema_in_every_reading_is_valid_against_the_2020_12_meta_schema(
    case: tuple[str, Reading],
) -> None:
    name, reading = case
    Draft202012Validator.check_schema(schema(name, reading))


@pytest.mark.parametrize("case", EVERY_READING, ids=reading_id)
def test_every_ref_resolves_offline_within_the_same_reading(case: tuple[str, Reading]) -> None:
    name, reading = case
    resolver = registry(reading).resolver(base_uri=uri(name))
    unresolved = []
    for ref in refs_in(schema(name, reading)):
        try:
            resolver.lookup(ref)
        except Unresolvable:
            unresolved.append(ref)
    assert unresolved == []


@pytest.mark.parametrize("case", EVERY_READING, ids=reading_id)
def test_every_schema_inlines_to_a_document_without_refs(case: tuple[str, Reading]) -> None:
    assert list(refs_in(resolved(*case))) == []


@pytest.mark.parametrize("name", EVERY_SCHEMA)
def test_every_schema_declares_draft_2020_12_and_its_own_id(name: str) -> None:
    document = raw(name)
    assert document["$schema"] == DRAFT_2020_12
    assert document["$id"] == uri(name)
    assert document["$id"].endswith(f"/{name}.json")


@pytest.mark.parametrize("name", EVERY_SCHEMA)
def test_every_schema_has_a_title_and_a_description(name: str) -> None:
    document = raw(name)
    assert isinstance(document.get("title"), str) and document["title"].strip()
    assert isinstance(document.get("description"), str) and document["description"].strip()


def test_titles_are_unique_so_they_can_name_openapi_components() -> None:
    titles = [raw(name)["title"] for name in EVERY_SCHEMA]
    assert sorted(t for t in set(titles) if titles.count(t) > 1) == []


@pytest.mark.parametrize("name", EVERY_SCHEMA)
def test_every_real_server_annotation_says_why_and_changes_the_reading(name: str) -> None:
    for path, annotation in annotated(name, SERVER_ANNOTATION):
        where = "/".join(path) or "(root)"
        assert isinstance(annotation, dict), where
        assert set(annotation) == {"why", "schema"}, where
        assert isinstance(annotation["why"], str) and annotation["why"].strip(), where
        assert isinstance(annotation["schema"], dict) and annotation["schema"], where
    documented, server = schema(name, "documented"), schema(name, "server")
    has_annotation = any(True for _ in annotated(name, SERVER_ANNOTATION))
    assert (documented != server) == has_annotation


@pytest.mark.parametrize("name", EVERY_SCHEMA)
def test_every_doc_annotation_is_an_object_of_texts(name: str) -> None:
    for path, annotation in annotated(name, "x-doc"):
        where = "/".join(path) or "(root)"
        assert isinstance(annotation, dict) and annotation, where
        assert all(isinstance(v, str) and v.strip() for v in annotation.values()), where


@pytest.mark.parametrize("name", EVERY_SCHEMA)
def test_schema_examples_are_valid_under_the_documented_reading(name: str) -> None:
    for example in raw(name).get("examples", []):
        assert validator(name, "documented").problems(example) == []


INLINED_AGREES = [("letta-async-request", body) for body in fixtures.valid_requests().values()] + [
    ("letta-async-request", case.body) for case in fixtures.invalid_requests()
]


@pytest.mark.parametrize("reading", READINGS)
def test_the_inlined_schema_judges_every_request_fixture_like_the_registry(
    reading: Reading,
) -> None:
    inlined = Draft202012Validator(resolved("letta-async-request", reading))
    with_refs = validator("letta-async-request", reading)
    disagreements = [
        body for _, body in INLINED_AGREES if inlined.is_valid(body) != with_refs.is_valid(body)
    ]
    assert disagreements == []
