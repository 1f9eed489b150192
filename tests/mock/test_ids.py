"""The ids the mock makes: version-4 UUIDs, written exactly as the ``uuid`` module writes them,
in the form the real server's run routes accept."""

from __future__ import annotations

import re
import uuid

from hypothesis import example, given
from hypothesis import strategies as st

from letta_contract_kit.mockserver.conversation import RunIds, new_id, uuid4_text
from letta_contract_kit.schemas.loader import raw

SIXTEEN_BYTES = st.binary(min_size=16, max_size=16)
SERVER_RUN_ID = re.compile(raw("run-id")["x-real-server"]["schema"]["pattern"])


@given(SIXTEEN_BYTES)
@example(bytes(16))
@example(b"\xff" * 16)
def test_the_text_is_the_uuid_modules_version_4_uuid_of_the_same_bytes(sixteen: bytes) -> None:
    assert uuid4_text(sixteen) == str(uuid.UUID(bytes=sixteen, version=4))


def test_a_new_run_id_has_the_form_the_run_routes_accept() -> None:
    ids = {new_id("run") for _ in range(200)}
    assert len(ids) == 200
    assert all(SERVER_RUN_ID.fullmatch(run_id) for run_id in ids), sorted(ids)[:3]


def test_the_ids_a_run_leaves_behind_are_drawn_again_the_same() -> None:
    first, again = RunIds("run-a"), RunIds("run-a")
    drawn = [first.new("message") for _ in range(5)]
    assert drawn == [again.new("message") for _ in range(5)]
    assert len(set(drawn)) == 5
    assert all(uuid.UUID(d.removeprefix("message-")).version == 4 for d in drawn)
