"""A process the mock owns serves with its start-up heap out of the collector's way: a full
collection stops every request in flight, and it need not walk the ~40,000 objects (modules,
schemas, the app) that live as long as the process. The mock in a user's test process never
touches the collector: its objects are the user's to collect."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest

from letta_contract_kit.mockserver import MockServer, server
from letta_contract_kit.mockserver.config import MockConfig


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # the test process goes on with every object collectable again


class _Recorded:
    """A stand-in for the waitress server: it records what the collector held when serving
    began, and serves nothing."""

    frozen_at_run: int | None = None

    def run(self) -> None:
        _Recorded.frozen_at_run = gc.get_freeze_count()


def test_the_cli_server_freezes_what_start_up_left_before_it_serves(
    unfrozen: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    built: list[Any] = []

    def fake_server(app: Any, config: MockConfig, at_once: Any) -> _Recorded:
        built.append(app)
        return _Recorded()

    monkeypatch.setattr(server, "create_json_server", fake_server)
    monkeypatch.setattr(server, "bound_port", lambda _: 8283)
    _Recorded.frozen_at_run = None
    server.serve(MockConfig(port=8283))
    assert built, "serve() built no server"
    assert _Recorded.frozen_at_run is not None and _Recorded.frozen_at_run > 10_000
    assert '"letta_mock": "listening"' in capsys.readouterr().out


def test_start_up_garbage_is_collected_not_frozen(unfrozen: None) -> None:
    class Cycle:
        partner: Any = None

    first, second = Cycle(), Cycle()
    first.partner, second.partner = second, first
    del first, second
    server.freeze_start_up_heap()
    frozen = gc.get_freeze_count()
    gc.unfreeze()
    assert not any(type(o).__name__ == "Cycle" for o in gc.get_objects())
    assert frozen > 0


def test_the_mock_in_a_test_process_leaves_the_collector_alone(unfrozen: None) -> None:
    with MockServer(MockConfig()) as mock:
        assert mock.base_url.startswith("http://127.0.0.1:")
        assert gc.get_freeze_count() == 0
