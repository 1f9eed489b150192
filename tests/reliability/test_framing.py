"""Malformed HTTP framing is answered, at once, and never with a 5xx.

Hypothesis builds broken requests of every kind the HTTP layer has to judge: bare LF or bare
CR line endings anywhere, control characters and obs-fold in headers, no or two Host headers,
unreadable or conflicting Content-Length, Content-Length with Transfer-Encoding, unknown
transfer codings, invalid chunk sizes, non-ASCII, overlong or versionless request lines, and
bytes that are not HTTP at all. Each is a complete message (nothing more is coming), sent raw
to each server the mock ships. Each must get an HTTP answer before the hang guard expires
(waitress once waited forever for a CRLF CRLF that bare-LF clients never send), never a 5xx,
and every 4xx must be JSON with a ``detail`` - except, under Granian, the empty-bodied 4xx of
its HTTP layer and the two cases of ``GRANIAN_CLOSES`` and ``GRANIAN_WAITS_FOR``, which the
README lists among the limits of ``--server granian``.
"""

from __future__ import annotations

import re
import string

from hypothesis import assume, given
from hypothesis import strategies as st

from reliability.cli_process import CliMock
from reliability.conftest import Target
from reliability.raw_http import send_raw

# A hang guard, not a measure: only a server that never answers fails on it.
GUARD = 10.0
CRLF, LF, CR = b"\r\n", b"\n", b"\r"
HOST = b"Host: 127.0.0.1"
TARGETS = (b"/v1/health/", b"/v1/runs/?limit=1")
CHUNKED_BODY = b"2\r\n{}\r\n0\r\n\r\n"
# Bytes that can start neither an HTTP method nor the blank lines allowed before a request.
TOKEN = (string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~").encode()
NOT_A_METHOD_START = sorted(set(range(256)) - set(TOKEN) - set(b" \t\r\n"))
BARE_ENDING = re.compile(rb"(?<!\r)\n|\r(?!\n)")
H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
FOUR_GIB_CHUNK = b"\r\n\r\n100000000\r\n"
# What Granian's HTTP layer does with two of these, among the limits of ``--server granian``
# (README): it closes an HTTP/2 preface without an answer (the bytes are not HTTP/1), and for
# a chunk announced larger than what is sent, the app's read of the body waits for the rest,
# holding a thread, as for any client that sends its body slowly (waitress refuses it: 413).
GRANIAN_CLOSES = (H2_PREFACE,)
GRANIAN_WAITS_FOR = (FOUR_GIB_CHUNK,)


def message(
    request_line: bytes, headers: list[bytes], body: bytes = b"", ending: bytes = CRLF
) -> bytes:
    return b"".join(line + ending for line in (request_line, *headers)) + ending + body


targets = st.sampled_from(TARGETS)
methods = st.sampled_from([b"GET", b"POST"])


@st.composite
def odd_line_endings(draw: st.DrawFn) -> bytes:
    """A request whose lines end in any mix of CRLF, LF and CR, at least one of them bare."""
    lines = [b"GET " + draw(targets) + b" HTTP/1.1", HOST, b"X-Probe: 1"]
    endings = [draw(st.sampled_from([CRLF, LF, CR])) for _ in lines]
    final = draw(st.sampled_from([CRLF, LF]))
    data = b"".join(line + end for line, end in zip(lines, endings, strict=True)) + final
    assume(BARE_ENDING.search(data) is not None)
    assume(not (endings[-1] == CR and final == LF))  # that is one CRLF: no blank line, no end
    return data


@st.composite
def odd_headers(draw: st.DrawFn) -> bytes:
    """Control characters, obs-fold, broken names; or no Host, two Hosts, an empty Host."""
    control = bytes([draw(st.sampled_from([0, 1, 8, 11, 12, 27, 127]))])
    high = bytes(draw(st.lists(st.integers(0x80, 0xFF), min_size=1, max_size=4)))
    odd = draw(
        st.sampled_from(
            [
                [HOST, b"X-Value: a" + control + b"b"],
                [HOST, b"X-" + control + b"Name: a"],
                [HOST, b"X-Value: " + high],
                [HOST, b"X-" + high + b": a"],
                [HOST, b"X-Folded: a", b" continued"],
                [b"\tfolded first", HOST],
                [HOST, b"No colon here"],
                [HOST, b"X-Space : a"],
                [HOST, b": no name"],
                [],
                [HOST, HOST],
                [b"Host:"],
            ]
        )
    )
    return message(draw(methods) + b" " + draw(targets) + b" HTTP/1.1", odd)


@st.composite
def odd_lengths(draw: st.DrawFn) -> bytes:
    """Unreadable, repeated, conflicting or huge Content-Length, maybe with Transfer-Encoding."""
    values = draw(
        st.lists(
            st.sampled_from(
                [b"2", b"-1", b"+2", b"0x2", b"2 2", b"two", b"", b"2, 2", b"2,3", b"1" * 30]
            ),
            min_size=1,
            max_size=3,
        )
    )
    assume(values != [b"2"])
    headers = [HOST, *(b"Content-Length: " + value for value in values)]
    body = b"{}"
    if draw(st.booleans()):
        headers.append(b"Transfer-Encoding: chunked")
        body = CHUNKED_BODY
    return message(b"POST " + draw(targets) + b" HTTP/1.1", headers, body)


@st.composite
def odd_transfer_codings(draw: st.DrawFn) -> bytes:
    coding = draw(
        st.sampled_from(
            [
                b"gzip",
                b"identity",
                b"chunked, gzip",
                b"gzip, chunked",
                b"Chunked",
                b"chunked, ",
                b"chunked, chunked",
                b"x" * 100,
                b"",
            ]
        )
    )
    headers = [HOST, b"Transfer-Encoding: " + coding]
    if draw(st.booleans()):
        headers.append(b"Content-Length: %d" % len(CHUNKED_BODY))  # what an empty coding means
    return message(b"POST " + draw(targets) + b" HTTP/1.1", headers, CHUNKED_BODY)


@st.composite
def odd_chunks(draw: st.DrawFn) -> bytes:
    """Chunk sizes that are not hex, signed, spaced, overflowing or beyond the body limit;
    broken extensions; a chunk not ended by CRLF."""
    size = draw(
        st.sampled_from(
            [
                b"zz",
                b"-1",
                b"+2",
                b"0x2",
                b" 2",
                b"2 2",
                b"2;",
                b"2;=x",
                b"2;a=\x01",
                b"f" * 24,
                b"100000000",
                b"1" + b"0" * 40,
            ]
        )
    )
    body = size + CRLF + b"{}" + CRLF + b"0" + CRLF + CRLF
    if draw(st.booleans()):
        body = b"2\r\n{}XX0\r\n\r\n"  # the data of a chunk is not followed by CRLF
    headers = [HOST, b"Transfer-Encoding: chunked"]
    return message(b"POST " + draw(targets) + b" HTTP/1.1", headers, body)


@st.composite
def odd_request_lines(draw: st.DrawFn) -> bytes:
    """Non-ASCII, overlong, versionless (HTTP/0.9), other versions, misplaced spaces."""
    target = draw(targets)
    high = bytes(draw(st.lists(st.integers(0x80, 0xFF), min_size=1, max_size=6)))
    version = draw(
        st.sampled_from(
            [
                b"HTTP/2.0",
                b"HTTP/9.9",
                b"HTTP/1.x",
                b"http/1.1",
                b"HTTP/01.1",
                b"HTTP/1.10",
                b"HTTP/3",
                b"HTTP/1.1" + high,
                b"HTCPCP/1.0",
            ]
        )
    )
    line = draw(
        st.sampled_from(
            [
                b"GET " + target + b" " + version,
                b"GET " + target + high + b" HTTP/1.1",
                b"G" + high + b"T " + target + b" HTTP/1.1",
                b"GET /" + b"a" * draw(st.sampled_from([9_000, 70_000, 300_000])) + b" HTTP/1.1",
                b"GET  " + target + b" HTTP/1.1",
                b"GET HTTP/1.1",
                b"get " + target + b" HTTP/1.1",
                b"GET " + target,
            ]
        )
    )
    if draw(st.booleans()) and line == b"GET " + target:
        return line + CRLF  # HTTP/0.9: one line, no headers, no blank line
    return message(line, [HOST])


@st.composite
def not_http(draw: st.DrawFn) -> bytes:
    """Bytes that are not an HTTP request at all (TLS, HTTP/2, noise)."""
    first = bytes([draw(st.sampled_from(NOT_A_METHOD_START))])
    return first + draw(st.binary(max_size=200))


malformed = st.one_of(
    odd_line_endings(),
    odd_headers(),
    odd_lengths(),
    odd_transfer_codings(),
    odd_chunks(),
    odd_request_lines(),
    not_http(),
    st.just(H2_PREFACE),
    st.just(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(40)),
)


@given(data=malformed)
def test_malformed_framing_is_answered_and_never_a_server_error(
    hostile_target: Target, data: bytes
) -> None:
    granian = isinstance(hostile_target, CliMock)
    assume(not (granian and any(part in data for part in GRANIAN_WAITS_FOR)))
    answer = send_raw(hostile_target.base_url, data, method="GET", timeout=GUARD)
    shown = data[:160]
    if granian and data.startswith(GRANIAN_CLOSES):
        assert answer.status == 0 and "timed out" not in str(answer.error), answer.describe()
        return
    assert answer.status != 0, f"no answer to {shown!r}: {answer.describe()}"
    assert answer.status < 500, f"{shown!r}: {answer.describe()}"
    http_layer = granian and not answer.body
    if answer.status >= 400 and not http_layer:
        assert answer.is_json, f"{shown!r}: not JSON: {answer.describe()}"
        assert "detail" in answer.json(), f"{shown!r}: no detail: {answer.describe()}"
