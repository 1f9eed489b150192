"""How the mock reads a request's body and what the request says of it: the same as werkzeug,
once, in one place."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from flask import Request
from hypothesis import example, given
from hypothesis import strategies as st
from werkzeug.exceptions import ClientDisconnected

from letta_contract_kit.mockserver import bodies
from letta_contract_kit.mockserver.bodies import body_bytes, declared_length

# What a client may write as a Content-Length or Transfer-Encoding value (WSGI: latin-1 text).
HEADER_TEXT = st.one_of(
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.text(alphabet="0123456789 +-_.xe\t", max_size=12),
    st.text(alphabet=st.characters(max_codepoint=255), max_size=12),
)
TRANSFER_ENCODING = st.one_of(
    st.sampled_from(["chunked", "Chunked", "gzip, chunked", "identity", "chunked, gzip", ""]),
    st.text(alphabet=st.characters(max_codepoint=255), max_size=12),
)


def _request(length: str | None, transfer: str | None) -> Request:
    environ: dict[str, object] = {"REQUEST_METHOD": "POST", "wsgi.input": io.BytesIO(b"")}
    if length is not None:
        environ["CONTENT_LENGTH"] = length
    if transfer is not None:
        environ["HTTP_TRANSFER_ENCODING"] = transfer
    return Request(environ)


@given(length=st.none() | HEADER_TEXT, transfer=st.none() | TRANSFER_ENCODING)
@example(length="12", transfer=None)
@example(length="12", transfer="chunked")
@example(length="-1", transfer=None)
@example(length=None, transfer=None)
def test_the_declared_length_is_werkzeugs_content_length(
    length: str | None, transfer: str | None
) -> None:
    assert declared_length(_request(length, transfer)) == _request(length, transfer).content_length


def _sent(body: bytes, declared: int | None, terminated: bool) -> Request:
    environ: dict[str, object] = {"REQUEST_METHOD": "POST", "wsgi.input": io.BytesIO(body)}
    if declared is not None:
        environ["CONTENT_LENGTH"] = str(declared)
    else:
        environ["HTTP_TRANSFER_ENCODING"] = "chunked"
    if terminated:  # the server ends the input where the body ends (waitress does)
        environ["wsgi.input_terminated"] = True
    return Request(environ)


@given(body=st.binary(max_size=300), chunked=st.booleans(), terminated=st.booleans())
def test_the_body_is_the_bytes_werkzeug_reads(body: bytes, chunked: bool, terminated: bool) -> None:
    declared = None if chunked else len(body)
    expected = _sent(body, declared, terminated).get_data()  # b"" for chunked, unterminated
    assert body_bytes(_sent(body, declared, terminated)) == expected


def test_the_body_is_read_once_for_every_reader() -> None:
    request = _sent(b'{"a": 1}', 8, terminated=True)
    first = body_bytes(request)
    assert body_bytes(request) is first == b'{"a": 1}'
    assert request.environ["wsgi.input"].read() == b""  # nothing was left to read twice


class Trickle(io.RawIOBase):
    """An input that gives at most three bytes a read, as a socket may."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        given, self.data = self.data[: min(size, 3)], self.data[min(size, 3) :]
        return given


def test_a_body_that_arrives_in_pieces_is_read_whole() -> None:
    request = _sent(b"", 11, terminated=False)
    request.environ["wsgi.input"] = Trickle(b'{"a": true}extra')
    assert body_bytes(request) == b'{"a": true}'


def test_a_body_that_ends_before_its_declared_length_is_a_client_gone() -> None:
    with pytest.raises(ClientDisconnected):
        body_bytes(_sent(b'{"a"', 8, terminated=True))


def test_only_the_bodies_module_reads_a_body() -> None:
    """Once read, the input is empty: a module reading it itself would see no body."""
    sources = Path(bodies.__file__).parent.rglob("*.py")
    readers = [
        path.name
        for path in sources
        if path.name != "bodies.py"
        and any(word in path.read_text() for word in ("get_data(", '"wsgi.input"]', ".stream."))
    ]
    assert readers == []
