"""One generation at a time per model; the newest request for a document wins.

A single worker thread runs jobs in arrival order. Submitting a job for a document
supersedes that document's earlier job: if it has not started it never runs, if it is
running its cancel event is set (backends check it between decode steps). Either way its
future fails with ``Superseded``, which the server answers as RequestCancelled (-32800).
Background jobs (pre-filling the prompt of a file just opened, speculative completions)
run only when no request waits, and are cancelled as soon as one arrives.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any


class Superseded(Exception):
    """The job was replaced by a newer one for the same document, or cancelled."""


@dataclass(eq=False)
class Job:
    key: str
    work: Callable[[threading.Event], Any]
    background: bool = False
    cancel: threading.Event = field(default_factory=threading.Event)
    future: Future = field(default_factory=Future)
    started: bool = False


class Scheduler:
    def __init__(self, name: str = "qwenpair-model") -> None:
        self._cv = threading.Condition()
        self._queue: deque[Job] = deque()
        self._background: deque[Job] = deque()
        self._latest: dict[str, Job] = {}
        self._running: Job | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit(self, key: str, work: Callable[[threading.Event], Any]) -> Future:
        """Run ``work(cancel_event)`` as the newest job for ``key``."""
        job = Job(key, work)
        with self._cv:
            if self._closed:
                job.future.set_exception(Superseded("scheduler closed"))
                return job.future
            prev = self._latest.get(key)
            if prev is not None:
                self._supersede(prev)
            running = self._running
            if running is not None and running.background:
                running.cancel.set()  # a request beats background work
            self._latest[key] = job
            self._queue.append(job)
            self._cv.notify()
        return job.future

    def submit_background(self, key: str, work: Callable[[threading.Event], Any]) -> Future:
        """Run ``work`` when idle; replaced by a newer background job for the same key."""
        job = Job(key, work, background=True)
        with self._cv:
            for old in [j for j in self._background if j.key == key]:
                self._background.remove(old)
                old.future.set_exception(Superseded("replaced"))
            self._background.append(job)
            self._cv.notify()
        return job.future

    def cancel(self, key: str) -> None:
        """Cancel the current job for ``key`` ($/cancelRequest)."""
        with self._cv:
            job = self._latest.get(key)
            if job is not None:
                self._supersede(job)

    def _supersede(self, job: Job) -> None:
        job.cancel.set()
        if not job.started and job in self._queue:
            self._queue.remove(job)
            if not job.future.done():
                job.future.set_exception(Superseded("superseded by a newer request"))
        if self._latest.get(job.key) is job:
            del self._latest[job.key]

    def _next(self) -> Job | None:
        with self._cv:
            while not self._closed and not self._queue and not self._background:
                self._cv.wait()
            if self._closed:
                return None
            job = self._queue.popleft() if self._queue else self._background.popleft()
            job.started = True
            self._running = job
            return job

    def _loop(self) -> None:
        while (job := self._next()) is not None:
            try:
                if job.cancel.is_set():
                    raise Superseded("superseded before it started")
                result = job.work(job.cancel)
                if job.cancel.is_set():
                    raise Superseded("superseded while running")
                job.future.set_result(result)
            except BaseException as exc:  # the future carries it to the caller
                if not job.future.done():
                    job.future.set_exception(exc)
            finally:
                with self._cv:
                    self._running = None
                    if self._latest.get(job.key) is job:
                        del self._latest[job.key]
                    self._cv.notify_all()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no job runs or waits, background ones included; False on timeout."""
        with self._cv:
            return self._cv.wait_for(
                lambda: self._closed or (self._running is None and not self._queue and not self._background), timeout
            )

    def pending(self) -> int:
        with self._cv:
            return len(self._queue) + (1 if self._running is not None else 0)

    def close(self) -> None:
        with self._cv:
            self._closed = True
            for job in list(self._queue) + list(self._background):
                job.cancel.set()
                if not job.future.done():
                    job.future.set_exception(Superseded("scheduler closed"))
            self._queue.clear()
            self._background.clear()
            if self._running is not None:
                self._running.cancel.set()
            self._cv.notify_all()
        self._thread.join(timeout=5)
