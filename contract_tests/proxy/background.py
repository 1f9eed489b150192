"""Judging off the answer's path: one thread judges the exchanges in the order they ended.

Without ``--fail-on-violation`` (or ``--judge-inline``) nothing in an answer depends on its
judgement, so the request thread hands the exchange over and answers at once. One thread
judges, and records, in the order the answers ended (as the request threads would, each
judging its own under the judge's lock), so the findings are the same. The queue is bounded
in exchanges and in bytes; a request thread that finds it full waits for room
(back-pressure: that answer waits, nothing is dropped). A job that raises is handed to
``on_error`` and the next one runs. :meth:`JudgingQueue.close` runs what is left before it
returns, so the reports written after it miss nothing.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Callable

MAX_JOBS = 1024  # exchanges waiting to be judged
MAX_BYTES = 64 * 1024 * 1024  # their bodies together (one larger exchange waits for an empty queue)

Job = Callable[[], object]


class JudgingQueue:
    """A bounded first-in first-out queue with one thread running its jobs."""

    def __init__(
        self,
        on_error: Callable[[BaseException], None],
        max_jobs: int = MAX_JOBS,
        max_bytes: int = MAX_BYTES,
    ) -> None:
        self.on_error = on_error
        self.max_jobs = max_jobs
        self.max_bytes = max_bytes
        self._jobs: deque[tuple[Job, int]] = deque()
        self._bytes = 0  # of the jobs queued and of the one running
        self._running = False
        self._closed = False
        self._finished = False
        self._lock = threading.Lock()
        self._not_empty = threading.Condition(self._lock)
        self._not_full = threading.Condition(self._lock)
        self._changed = threading.Condition(self._lock)  # for wait_for
        self.waiting = 0  # submitters waiting for room now
        self.waited = 0  # submissions that had to wait for room
        self.done = 0  # jobs finished
        self._thread = threading.Thread(target=self._work, name="letta-proxy-judge", daemon=True)
        self._thread.start()

    @property
    def pending(self) -> int:
        """Jobs submitted and not yet finished."""
        return len(self._jobs) + (1 if self._running else 0)

    def submit(self, job: Job, size: int = 0) -> None:
        """Queue ``job`` (``size``: the bytes it holds); wait while the queue is full. Once the
        thread has stopped (after :meth:`close`), run it here."""
        with self._lock:
            if not self._finished:
                if self._full(size):
                    self.waited += 1
                    self.waiting += 1
                    self._changed.notify_all()
                    try:
                        while self._full(size):
                            self._not_full.wait()
                    finally:
                        self.waiting -= 1
                self._jobs.append((job, size))
                self._bytes += size
                self._not_empty.notify()
                self._changed.notify_all()
                return
        self._run(job)

    def _full(self, size: int) -> bool:
        if not self._jobs and not self._running:
            return False  # an empty queue takes any one job, however large
        return len(self._jobs) >= self.max_jobs or self._bytes + size > self.max_bytes

    def _work(self) -> None:
        while True:
            with self._lock:
                # Once closed, stop only when nothing is queued and nobody waits for room.
                while not self._jobs and not (self._closed and not self.waiting):
                    self._not_empty.wait()
                if not self._jobs:
                    self._finished = True
                    self._changed.notify_all()
                    return
                job, size = self._jobs.popleft()
                self._running = True
            try:
                self._run(job)
            finally:
                with self._lock:
                    self._running = False
                    self._bytes -= size
                    self.done += 1
                    self._not_full.notify_all()
                    self._changed.notify_all()

    def _run(self, job: Job) -> None:
        try:
            job()
        except BaseException as exc:  # a broken judgement must not stop the judging
            with contextlib.suppress(Exception):
                self.on_error(exc)

    def wait_for(self, predicate: Callable[[], bool], timeout: float | None = None) -> bool:
        """Wait until ``predicate()`` holds, checked each time the queue changes (a job
        queued, finished, a submitter starting to wait); False if ``timeout`` passed first.
        ``predicate`` runs under the queue's lock: it may read ``pending``, ``waiting``,
        ``waited`` and ``done``, and must not call the queue's methods."""
        with self._lock:
            return self._changed.wait_for(predicate, timeout)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until every job submitted so far is finished; False if ``timeout`` passed."""
        return self.wait_for(lambda: self.pending == 0, timeout)

    def close(self) -> None:
        """Finish every job queued (and every one waiting for room), then stop the thread;
        jobs submitted after that run where they are submitted."""
        with self._lock:
            self._closed = True
            self._not_empty.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join()
