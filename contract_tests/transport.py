"""A ``requests`` session whose requests have a limit in total, not only between reads.

``requests``' timeout bounds the connect and each wait for bytes, so a server that sends a
byte every half second keeps a request alive for ever. Here every connection the session
uses says which thread is using it, and a watchdog shuts that connection's socket down when
the request's total limit (the per-request timeout, or the suite's deadline if that comes
first) has passed: the blocked read ends at once, and the caller learns that the watchdog
ended it.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_local = threading.local()


class Watch:
    """The socket one request is using, and whether its limit cut it."""

    def __init__(self) -> None:
        self.sock: socket.socket | None = None
        self.cut = False
        self._lock = threading.Lock()

    def use(self, sock: socket.socket) -> None:
        with self._lock:
            self.sock = sock
            if self.cut:  # the limit passed while the request was connecting
                _shut(sock)

    def expire(self) -> None:
        with self._lock:
            self.cut = True
            if self.sock is not None:
                _shut(self.sock)


def _shut(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def _announce(connection: HTTPConnection) -> None:
    """Tell this thread's watch which socket it is using. The socket, not the connection:
    a connection that will close forgets its socket while the answer is still read."""
    watch: Watch | None = getattr(_local, "watch", None)
    sock: Any = getattr(connection, "sock", None)
    if watch is not None and sock is not None:
        watch.use(sock)


class _WatchedHTTPConnection(HTTPConnection):
    def connect(self) -> None:
        super().connect()
        _announce(self)

    def request(self, *args: Any, **kwargs: Any) -> None:
        _announce(self)  # a kept-alive connection is not connected again
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        _announce(self)

    def request(self, *args: Any, **kwargs: Any) -> None:
        _announce(self)
        super().request(*args, **kwargs)


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class _WatchedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _WatchedHTTPPool,
            "https": _WatchedHTTPSPool,
        }


def watched_session() -> requests.Session:
    """A session whose requests :func:`limit` can cut short."""
    session = requests.Session()
    adapter = _WatchedAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


@contextmanager
def limit(seconds: float) -> Iterator[Watch]:
    """Cut the request this thread sends inside the block once ``seconds`` have passed."""
    watch = Watch()
    timer = threading.Timer(seconds, watch.expire)
    timer.daemon = True
    _local.watch = watch
    timer.start()
    try:
        yield watch
    finally:
        timer.cancel()
        _local.watch = None
