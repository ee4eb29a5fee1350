"""Completions asked for while the model loads: they wait for it, up to a cap, then answer.

An editor asks for a completion as soon as the user types, often before the model has
finished loading. Answering at once with nothing is a lost keystroke: Neovim's native inline
completion does not ask again until the user types more. So a request that arrives while a
model loads waits for the load, at most ``min(MAX_WAIT_S, latency target + the expected
remaining load time)`` (docs/lsp.md), and is then answered with a real completion, or with
nothing when the cap passes first or the load fails. A newer request for the same document
supersedes a waiting one, as the scheduler does with running ones.

This module only keeps the state and makes the decisions (the expected load time, the cap,
who is superseded); the language server polls ``LoadWait.outcome`` from its event loop. It
knows nothing of LSP and loads nothing.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Literal

#: The longest a completion ever waits for a model to load.
MAX_WAIT_S = 10.0
#: Load speed assumed before one load was measured in this process: a GGUF is mapped and its
#: tensors touched at roughly this rate on the machines we measure (0.5B Q8_0, 531 MB: ~1 s).
DEFAULT_LOAD_BYTES_PER_S = 500e6
#: Floor of the expected load time: llama.cpp's own set-up (context, backends) for any file.
MIN_LOAD_S = 0.2

Outcome = Literal["wait", "ready", "failed", "timeout", "superseded"]


class LoadWait:
    """The load in progress (if any) and the completions waiting for it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.state: Literal["none", "loading", "ready", "failed"] = "none"
        self._started = 0.0
        self._expected_s = 0.0
        self._bytes = 0
        self._bytes_per_s = DEFAULT_LOAD_BYTES_PER_S  # refined by each finished load
        self._had_model = False  # a model was ready before: a switch, whose old model answers meanwhile
        self._tickets: dict[str, int] = {}
        self._waiting: set[tuple[str, int]] = set()

    # -- the load ---------------------------------------------------------------------------
    def begin(self, model: str | Path | None) -> None:
        """A load of ``model`` (a file path, when it is one) starts now."""
        size = _size(model)
        with self._lock:
            self.state = "loading"
            self._started = time.monotonic()
            self._bytes = size
            self._expected_s = max(MIN_LOAD_S, size / self._bytes_per_s) if size else 3.0

    def end(self, ok: bool) -> None:
        """The load finished (``ok``) or failed; the waiting requests go on either way."""
        with self._lock:
            took = time.monotonic() - self._started
            if ok and self.state == "loading" and self._bytes and took > 0:
                self._bytes_per_s = max(1e6, self._bytes / took)  # the next load is expected at this rate
            self.state = "ready" if ok else "failed"
            self._had_model = self._had_model or ok

    def blocks_completions(self) -> bool:
        """True while the first model loads: completions must wait for it (a later switch
        keeps the running model answering until the new one is in place)."""
        with self._lock:
            return self.state == "loading" and not self._had_model

    def remaining_s(self) -> float:
        """The expected load time left (0 when no load runs or it is overdue)."""
        with self._lock:
            if self.state != "loading":
                return 0.0
            return max(0.0, self._expected_s - (time.monotonic() - self._started))

    def cap_s(self, latency_target_s: float) -> float:
        """How long a request arriving now may wait: the latency target plus the expected
        remaining load time, at most ``MAX_WAIT_S``."""
        return max(0.0, min(MAX_WAIT_S, latency_target_s + self.remaining_s()))

    # -- the waiting requests ---------------------------------------------------------------
    def enter(self, key: str, latency_target_s: float) -> tuple[int, float]:
        """Register a request for document ``key``; any earlier one waiting for it is now
        superseded. Returns (its ticket, the monotonic deadline of its wait)."""
        deadline = time.monotonic() + self.cap_s(latency_target_s)
        with self._lock:
            ticket = self._tickets.get(key, 0) + 1
            self._tickets[key] = ticket
            self._waiting.add((key, ticket))
        return ticket, deadline

    def outcome(self, key: str, ticket: int, deadline: float) -> Outcome:
        """What a waiting request does now: go on waiting, or stop (and why)."""
        with self._lock:
            if self._tickets.get(key) != ticket:
                result: Outcome = "superseded"
            elif self.state == "ready":
                result = "ready"
            elif self.state in ("failed", "none"):
                result = "failed"
            elif time.monotonic() >= deadline:
                result = "timeout"
            else:
                return "wait"
            self._waiting.discard((key, ticket))
            return result

    def leave(self, key: str, ticket: int) -> None:
        """The request went away (cancelled by the client) before an outcome."""
        with self._lock:
            self._waiting.discard((key, ticket))

    def status(self) -> dict:
        """For ``qwenpair.status`` while a model loads."""
        with self._lock:
            waiting = len(self._waiting)
            expected = self._expected_s
        return {"waiting_completions": waiting, "expected_load_s": round(expected, 2),
                "expected_remaining_s": round(self.remaining_s(), 2)}


def _size(model: str | Path | None) -> int:
    """The GGUF's size in bytes, when ``model`` names a local one (a path, a registry name,
    "auto" for the default); 0 otherwise (a remote endpoint, a model not downloaded)."""
    from model import registry
    from model.errors import ModelError
    from model.loader import resolve_gguf

    if model is None:
        return 0
    reference = registry.DEFAULT_COMPLETION_MODEL if str(model) == "auto" else str(model)
    try:
        return resolve_gguf(reference).stat().st_size
    except (ModelError, OSError, ValueError, KeyError):
        return 0
