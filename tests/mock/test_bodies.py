"""How the mock reads what a request says of its body: the same as werkzeug says it."""

from __future__ import annotations

import io

from flask import Request
from hypothesis import example, given
from hypothesis import strategies as st

from letta_contract_kit.mockserver.bodies import declared_length

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
