"""Any JSON value at any place of a request gets a clean answer, never a server error.

Hypothesis puts arbitrary JSON values (lists and objects where a string or a tag belongs,
numbers past every integer and float limit, NaN and infinities, lone surrogate escapes,
NUL, empty strings) at every location of the documented request schema, in the keys of
its objects, in every header the mock reads and in the path and query of every route the
mock serves. Whatever it sends:

* the answer is JSON and below 500;
* a refused request (4xx) says where (``detail``) and creates no run;
* an accepted one (200) is a run that reads back, with its messages, as valid JSON;
* the mock accepts a body exactly when the real server's reading of the schema does (with
  the tags the documentation lets a client leave out filled in, as the mock reads bodies);
* every store (memory, SQLite, LMDB) keeps whatever the mock accepts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from letta_contract_kit.contract_tests.boundaries import locations
from letta_contract_kit.mockserver import MockConfig, create_app
from letta_contract_kit.mockserver.bodies import without_lone_surrogates
from letta_contract_kit.mockserver.faults import FAULT_HEADER
from letta_contract_kit.mockserver.scenarios import SCENARIO_HEADER
from letta_contract_kit.schemas import validator
from letta_contract_kit.schemas.tags import with_documented_tags

from .conftest import AGENT

TOKEN = "mock-token-0123456789"
ASYNC = f"/v1/agents/{AGENT}/messages/async"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LOCATIONS = locations()
SERVER = validator("letta-async-request", "server")

# Property names of the request schema: objects made of them look like the real thing.
NAMES = sorted({str(step) for loc in LOCATIONS for step in loc.path if isinstance(step, str)})
TRICKY_TEXT = st.sampled_from(
    ["", "\x00", "\ud800", "a\udfffb", "\ud83d", "user\x00", "text", "image", "url", "\u2028"]
)
TEXT = TRICKY_TEXT | st.text(st.characters(codec=None), max_size=12)
NUMBERS = st.one_of(
    st.integers(),
    st.sampled_from([2**31, 2**63, -(2**63) - 1, 10**30, 10**400]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e308, -0.0, 5e-324]),
)
SCALARS = st.none() | st.booleans() | NUMBERS | TEXT
KEYS = st.sampled_from(["type", *NAMES]) | TEXT


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    tagged = st.builds(lambda tag, rest: {**rest, "type": tag}, inner, st.dictionaries(KEYS, inner))
    return st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=4) | tagged


VALUES = st.recursive(SCALARS, _containers, max_leaves=10)
# A header value as it can cross the wire: Latin-1 text without line breaks, often after the
# prefix that makes the mock read on (a bearer token, a JSON media type).
LATIN_1 = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=40
)
HEADER_TEXT = st.builds(
    str.__add__, st.sampled_from(["", "Bearer ", "bearer ", "application/json; charset="]), LATIN_1
)
PATH_TEXT = TEXT | st.sampled_from(["run-", "agent-", "..", "%00", "run-../../etc", " "])
PATH_SEGMENT = PATH_TEXT.map(lambda s: quote(s.encode("utf-8", "surrogatepass"), safe=""))

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


def dumps(body: Any) -> bytes:
    """JSON as a client may send it: lone surrogates as escapes, NaN and Infinity as words."""
    return json.dumps(body, ensure_ascii=True, allow_nan=True).encode("ascii")


def _app(**fields: Any) -> Flask:
    return create_app(MockConfig(agents=[AGENT], clock="per-poll", token=TOKEN, **fields))


@pytest.fixture(scope="module")
def app() -> Iterator[Flask]:
    made = _app()
    yield made
    made.extensions["letta_mock"].close()


@pytest.fixture(scope="module", params=["sqlite", "lmdb"])
def stored_app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Flask]:
    store = request.param
    path = tmp_path_factory.mktemp(store) / f"runs.{store}"
    made = _app(store=store, **{f"{store}_path": str(path)})
    yield made
    made.extensions["letta_mock"].close()


def _strict(text: bytes) -> Any:
    """Decode as strict JSON: no NaN or Infinity, no lone surrogate escapes."""

    def refuse(word: str) -> Any:
        raise AssertionError(f"{word} is not JSON: {text[:300]!r}")

    decoded = json.loads(text, parse_constant=refuse)
    json.dumps(decoded, ensure_ascii=False).encode("utf-8")  # raises on a lone surrogate
    return decoded


def run_count(app: Flask) -> int:
    return len(app.extensions["letta_mock"].store.runs())


def assert_clean(answer: Any, what: str) -> None:
    assert answer.status_code < 500, f"{what}: {answer.status_code} {answer.get_data()[:300]!r}"
    assert answer.is_json, f"{what}: not JSON: {answer.get_data()[:300]!r}"
    if answer.status_code >= 400:
        assert "detail" in answer.get_json(), f"{what}: no detail: {answer.get_data()[:300]!r}"


def assert_reads_back(client: FlaskClient, run_id: str) -> None:
    for path in (f"/v1/runs/{run_id}", f"/v1/runs/{run_id}/messages", f"/v1/runs/{run_id}"):
        answer = client.get(path, headers=AUTH)
        assert answer.status_code == 200, f"{path}: {answer.get_data()[:300]!r}"
        _strict(answer.get_data())


def post_and_judge(app: Flask, raw: bytes, body: Any, what: str) -> None:
    client = app.test_client()
    before = run_count(app)
    answer = client.post(ASYNC, data=raw, headers={**AUTH, "Content-Type": "application/json"})
    assert_clean(answer, what)
    accepted = answer.status_code == 200
    read = with_documented_tags(without_lone_surrogates(body))
    assert accepted == SERVER.is_valid(read), (
        f"{what}: answered {answer.status_code} but the server reading says "
        f"{SERVER.problems(read)[:3]}: {answer.get_data()[:300]!r}"
    )
    if accepted:
        assert run_count(app) == before + 1
        assert_reads_back(client, answer.get_json()["id"])
    else:
        assert run_count(app) == before, f"{what}: a refused request created a run"


EACH_PLACE = settings(SETTINGS, max_examples=15)
BY_LOCATION = pytest.mark.parametrize("where", LOCATIONS, ids=[loc.label for loc in LOCATIONS])


@BY_LOCATION
@EACH_PLACE
@given(value=VALUES)
def test_any_value_at_every_location_of_the_body(app: Flask, where: Any, value: Any) -> None:
    body = where.body(value)
    post_and_judge(app, dumps(body), body, f"{where.label} = {value!r}")


@SETTINGS
@given(where=st.sampled_from(LOCATIONS), key=TEXT, value=VALUES)
def test_any_key_in_any_object_of_the_body(app: Flask, where: Any, key: str, value: Any) -> None:
    """An extra key (a lone surrogate, NUL, empty) next to a valid value of the location."""
    body = where.body({key: value})
    post_and_judge(app, dumps(body), body, f"{where.label} = {{{key!r}: {value!r}}}")


@SETTINGS
@given(where=st.sampled_from(LOCATIONS), value=VALUES)
def test_every_store_keeps_what_the_mock_accepts(stored_app: Flask, where: Any, value: Any) -> None:
    """SQLite and LMDB encode runs (the memory store does not): numbers past 64 bits, NaN,
    NUL and replaced surrogates must survive the round trip, or be refused before."""
    body = where.body(value)
    post_and_judge(stored_app, dumps(body), body, f"{where.label} = {value!r}")


@SETTINGS
@given(body=VALUES)
def test_any_value_as_the_whole_body(app: Flask, body: Any) -> None:
    post_and_judge(app, dumps(body), body, f"body = {body!r}")


READ_HEADERS = ("Authorization", "Content-Type", SCENARIO_HEADER, FAULT_HEADER, "User-Agent")


@SETTINGS
@given(name=st.sampled_from(READ_HEADERS), value=HEADER_TEXT)
def test_any_value_in_any_header_the_mock_reads(app: Flask, name: str, value: str) -> None:
    client = app.test_client()
    before = run_count(app)
    headers = {**AUTH, "Content-Type": "application/json", name: value}
    answer = client.post(ASYNC, data=b'{"input": "hi"}', headers=headers)
    assert_clean(answer, f"{name}: {value!r}")
    if answer.status_code == 200:
        assert run_count(app) == before + 1
    else:
        assert run_count(app) == before, f"{name}: {value!r} was refused but created a run"


def test_a_bearer_token_with_non_ascii_characters_is_a_401_not_a_crash(app: Flask) -> None:
    answer = app.test_client().post(
        ASYNC, json={"input": "hi"}, headers={"Authorization": "Bearer t\xe9st\xff"}
    )
    assert answer.status_code == 401 and answer.is_json


ROUTES = (
    ("GET", "/v1/runs/{}"),
    ("GET", "/v1/runs/{}/messages"),
    ("GET", "/v1/runs/{}/steps"),
    ("GET", "/v1/runs/{}/usage"),
    ("GET", "/v1/agents/{}"),
    ("POST", "/v1/agents/{}/messages/async"),
    ("POST", "/v1/agents/{}/messages/cancel"),
)
QUERY_NAMES = (
    "limit",
    "order",
    "after",
    "before",
    "statuses",
    "stop_reason",
    "agent_id",
    "conversation_id",
    "active",
    "background",
    "ascending",
)


@SETTINGS
@given(
    route=st.sampled_from(ROUTES),
    segment=PATH_SEGMENT,
    query=st.lists(st.tuples(st.sampled_from(QUERY_NAMES), PATH_SEGMENT), max_size=3),
)
def test_any_path_and_query_on_every_route(
    app: Flask, route: tuple[str, str], segment: str, query: list[tuple[str, str]]
) -> None:
    method, template = route
    client = app.test_client()
    before = run_count(app)
    url = template.format(segment) + ("?" + "&".join(f"{k}={v}" for k, v in query))
    answer = client.open(url, method=method, data=b'{"input": "hi"}', headers=AUTH)
    assert_clean(answer, f"{method} {url}")
    if method == "POST" and answer.status_code != 200:
        assert run_count(app) == before


@SETTINGS
@given(query=st.lists(st.tuples(st.sampled_from(QUERY_NAMES), PATH_SEGMENT), max_size=4))
def test_any_query_on_the_run_listing(app: Flask, query: list[tuple[str, str]]) -> None:
    url = "/v1/runs/?" + "&".join(f"{k}={v}" for k, v in query)
    assert_clean(app.test_client().get(url, headers=AUTH), f"GET {url}")
