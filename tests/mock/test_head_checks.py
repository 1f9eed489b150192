"""The checks of a request head find every bare CR, bare LF and control byte, however the head
arrives: the same verdicts, in the same words, as searching every byte of it each time."""

from __future__ import annotations

from unittest import mock

from hypothesis import example, given, settings
from hypothesis import strategies as st
from waitress.adjustments import Adjustments

from letta_contract_kit.mockserver import waitress_json
from letta_contract_kit.mockserver.waitress_json import CheckedRequestParser

PIECES = st.sampled_from(
    [
        b"\r",
        b"\n",
        b"\r\n",
        b"\r\n\r\n",
        b"\x00",
        b"\x0b",
        b"\x1f",
        b"\x7f",
        b"\t",
        b" ",
        b"\x80",
        b"\xff",
        b"a",
        b":",
        b"GET / HTTP/1.1",
        b"POST /v1/runs/ HTTP/1.0",
        b"Host: x",
        b"X-Probe: 1",
        b"HTTP/2.0",
    ]
)
HEADS = st.lists(PIECES, max_size=24).map(b"".join)


def _adjustments() -> Adjustments:
    adj = Adjustments()
    adj.mock_max_body_bytes = 1 << 20  # type: ignore[attr-defined]
    return adj


def _verdicts(data: bytes, cuts: list[int]) -> list[tuple[int, bool, str | None]]:
    """What the parser says after each piece of ``data`` (cut at ``cuts``) arrives."""
    parser = CheckedRequestParser(_adjustments())
    said = []
    for start, end in zip([0, *cuts], [*cuts, len(data)], strict=True):
        parser.received(data[start:end])
        error = parser.error
        said.append((end, parser.completed, None if error is None else str(error.body)))
        if parser.completed:
            break
    return said


def _searching_every_byte() -> mock._patch[object]:
    """The checks with their counting in C taken out: every search always runs."""
    return mock.patch.multiple(waitress_json, _uneven=lambda *_: True, _HEAD_BYTES=b"")


@settings(max_examples=400)
@given(
    blank=st.sampled_from([b"", b"\r\n", b"\n", b"\r", b" \t"]),
    head=HEADS,
    cuts=st.lists(st.integers(min_value=1, max_value=200), max_size=4).map(sorted),
)
@example(blank=b"\r", head=b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", cuts=[])
@example(blank=b"", head=b"GET / HTTP/1.1\r\nHost: x\r\rX: 1\r\n\r\n", cuts=[25])
@example(blank=b"", head=b"GET / HTTP/1.1\r\nHost: x\r\n\nX: 1\r\n\r\n", cuts=[24, 25])
@example(blank=b"", head=b"GET / HTTP/1.1\r\nHost: \x7f\r\n\r\n", cuts=[3])
def test_a_head_gets_the_verdict_of_searching_every_byte(
    blank: bytes, head: bytes, cuts: list[int]
) -> None:
    data = blank + head
    cuts = sorted({c for c in cuts if c < len(data)})
    fast = _verdicts(data, cuts)
    with _searching_every_byte():
        searched = _verdicts(data, cuts)
    assert fast == searched


def test_each_kind_of_problem_is_named() -> None:
    heads = {
        b"GET / HTTP/1.1\nHost: x\r\n\r\n": "bare LF",
        b"GET / HTTP/1.1\r\nHost: x\rY\r\n\r\n": "bare CR",
        b"GET / HTTP/1.1\r\nHost: a\x01b\r\n\r\n": "control character",
    }
    for head, named in heads.items():
        [(_, completed, said)] = _verdicts(head, [])
        assert completed and said is not None and named in said, (head, said)
