"""The scheduler runs one job at a time and lets the newest request per document win."""

import threading
import time

import pytest

from assistant.scheduler import Scheduler, Superseded


@pytest.fixture()
def sched():
    s = Scheduler()
    yield s
    s.close()


def blocking_job(started: threading.Event, release: threading.Event, value):
    def work(cancel: threading.Event):
        started.set()
        while not release.is_set() and not cancel.is_set():
            time.sleep(0.005)
        return value

    return work


def test_newest_request_for_a_document_wins(sched):
    started, release = threading.Event(), threading.Event()
    first = sched.submit("a.py", blocking_job(started, release, 1))
    assert started.wait(2)
    queued = sched.submit("a.py", lambda c: 2)  # supersedes the running first job
    newest = sched.submit("a.py", lambda c: 3)  # supersedes the queued one before it runs
    with pytest.raises(Superseded):
        first.result(timeout=2)  # cancelled while running
    with pytest.raises(Superseded):
        queued.result(timeout=2)
    assert newest.result(timeout=2) == 3


def test_other_documents_are_not_cancelled_and_run_one_at_a_time(sched):
    running = []
    overlap = []

    def work(tag):
        def run(cancel):
            if running:
                overlap.append(tag)
            running.append(tag)
            time.sleep(0.02)
            running.remove(tag)
            return tag

        return run

    futures = [sched.submit(f"doc{i}.py", work(i)) for i in range(5)]
    assert [f.result(timeout=5) for f in futures] == list(range(5))
    assert overlap == []


def test_background_work_yields_to_requests(sched):
    started, release = threading.Event(), threading.Event()
    bg = sched.submit_background("prefill:a.py", blocking_job(started, release, "bg"))
    assert started.wait(2)
    fg = sched.submit("a.py", lambda c: "fg")
    assert fg.result(timeout=2) == "fg"
    with pytest.raises(Superseded):
        bg.result(timeout=2)


def test_explicit_cancel_and_errors_reach_the_caller(sched):
    started, release = threading.Event(), threading.Event()
    job = sched.submit("a.py", blocking_job(started, release, 1))
    assert started.wait(2)
    sched.cancel("a.py")
    with pytest.raises(Superseded):
        job.result(timeout=2)

    def boom(cancel):
        raise ValueError("model exploded")

    with pytest.raises(ValueError, match="exploded"):
        sched.submit("b.py", boom).result(timeout=2)
    assert sched.submit("b.py", lambda c: "still alive").result(timeout=2) == "still alive"


def test_close_fails_pending_jobs():
    s = Scheduler()
    started, release = threading.Event(), threading.Event()
    running = s.submit("a.py", blocking_job(started, release, 1))
    assert started.wait(2)
    queued = s.submit("b.py", lambda c: 2)
    s.close()
    for f in (running, queued):
        with pytest.raises(Superseded):
            f.result(timeout=2)
