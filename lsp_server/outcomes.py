"""Suggestion ids and outcomes over LSP (docs/lsp.md, "Suggestion outcomes"; docs/stats.md).

Every suggestion the server answers gets an id, carried in its item's ``command``
(``item_command``): ``qwenpair.accepted`` for completions, ``qwenpair.nextEdit`` for next
edits, with ``[{"id", "kind"}]``. Running that command records "accepted"; the notification
``qwenpair/suggestionOutcome`` reports "accepted", "partial" or "dismissed". The document
changes go to the tracker, which infers "typed over", "ignored", the retained characters and
reversals (``assistant.outcomes_tracker``); the store is ``assistant.outcomes``. This module
only converts positions and arguments, opens the store as the ``[stats]`` settings say, and
keeps a timer for the measurements that fall due while nothing else happens.

``QWENPAIR_STATS_DELAYS`` ("reversal,first,second" seconds, default "10,30,120") shortens the
waits for the real-server tests; the figures are still stored as the 10 s / 30 s / 120 s ones.
"""

from __future__ import annotations

import logging
import os
import secrets
import sqlite3
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from lsprotocol import types

from assistant.large_document import line_start
from assistant.outcomes import KINDS, REPORTED, OutcomeStore, StatsConfig, default_path
from assistant.outcomes_report import group_figures, start_of_day
from assistant.outcomes_tracker import Offer, OutcomeTracker, Source
from assistant.request import CompletionResult
from lsp_server.positions import to_offset
from repo_index.languages import language_for

log = logging.getLogger(__name__)

ACCEPTED = "qwenpair.accepted"
NEXT_EDIT = "qwenpair.nextEdit"
NOTIFICATION = "qwenpair/suggestionOutcome"


def item_command(sid: str, kind: str) -> dict[str, Any]:
    """The ``command`` of an item carrying suggestion ``sid``: clients run it on accept."""
    return {"title": "qwenpair", "command": NEXT_EDIT if kind == "next_edit" else ACCEPTED,
            "arguments": [{"id": sid, "kind": kind}]}


def lsp_command(sid: str, kind: str) -> types.Command:
    c = item_command(sid, kind)
    return types.Command(title=c["title"], command=c["command"], arguments=c["arguments"])


def _delays() -> tuple[float, tuple[float, float]] | None:
    raw = os.environ.get("QWENPAIR_STATS_DELAYS")
    if not raw:
        return None
    try:
        reversal, first, second = (float(v) for v in raw.split(","))
    except ValueError:
        log.warning("QWENPAIR_STATS_DELAYS=%r is not three numbers (reversal,first,second); using 10,30,120", raw)
        return None
    return reversal, (first, second)


def _name(ref: str) -> str:
    """A model or adapter as the figures name it: a file's or folder's name (not its path), a
    server's host, port and path (not its credentials or query)."""
    if "://" in ref:
        url = urlsplit(ref)
        return f"{url.hostname or ''}{f':{url.port}' if url.port else ''}{url.path}".rstrip("/") or ref.split("://")[0]
    return Path(ref).name or ref


def _fields(params: Any) -> dict[str, Any]:
    """A notification's params as a dict (pygls hands over unknown methods' params as namedtuples)."""
    if isinstance(params, dict):
        return params
    as_dict = getattr(params, "_asdict", None)
    return dict(as_dict()) if as_dict is not None else {}


class Outcomes:
    """The server's outcome recording: one store and tracker while ``[stats] enabled``."""

    def __init__(self, ls) -> None:
        self.ls = ls
        self.tracker: OutcomeTracker | None = None
        self._config: StatsConfig | None = None
        self.problem = ""  # why recording is off although the settings want it
        self._first_line: dict[str, str] = {}  # uri -> id of a block's first line, until its block comes
        self._timer: Any = None
        self._timer_due: float | None = None

    # -- the store -------------------------------------------------------------------------
    def _current(self) -> OutcomeTracker | None:
        """The tracker for the current settings (opened, closed or reopened as they changed)."""
        config = self.ls.settings.stats
        if config != self._config:
            self.close()
            self._config, self.problem = config, ""
            if config.enabled:
                try:
                    store = OutcomeStore.open(default_path(), max_suggestions=config.max_suggestions,
                                              keep_text=config.keep_text, on_reset=self._reset)
                except (OSError, sqlite3.Error) as exc:  # a read-only or full cache: no figures, said once
                    self.problem = (f"suggestion statistics are off: cannot open {default_path()}: {exc} "
                                    "(check QWENPAIR_CACHE_DIR, or set [stats] enabled = false)")
                    self.ls.show(types.MessageType.Warning, f"qwenpair: {self.problem}")
                    return None
                delays = _delays()
                self.tracker = (OutcomeTracker(store) if delays is None else
                                OutcomeTracker(store, reversal_s=delays[0], retention_s=delays[1]))
        return self.tracker

    def _reset(self, message: str) -> None:
        self.ls.show(types.MessageType.Warning, f"qwenpair: {message}")

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer, self._timer_due = None, None
        if self.tracker is not None:
            self.tracker.close()
            self.tracker.store.close()
            self.tracker = None
        self._config = None

    def _schedule(self) -> None:
        """Wake up when the next measurement is due (the tracker takes it then)."""
        tracker, loop = self.tracker, self.ls.loop
        due = tracker.tick() if tracker is not None else None
        if due is None or loop is None or (self._timer_due is not None and self._timer_due <= due):
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_due = due
        self._timer = loop.call_later(max(0.0, due - time.time()) + 0.01, self._fire)

    def _fire(self) -> None:
        self._timer, self._timer_due = None, None
        self._schedule()

    # -- suggestions shown -----------------------------------------------------------------
    def _source(self, uri: str, latency_ms: float | None, prompt: str) -> Source:
        path = self.ls.path_of(uri)
        doc = self.ls.docs.get(uri)
        spec = language_for(str(path)) if path is not None else None
        language = (doc.language if doc is not None and doc.language else None) or (spec.name if spec else "other")
        models = self.ls.models
        model = _name(models.completion_ref) if models is not None else "none"
        adapter = _name(models.adapter) if models is not None and models.adapter else None
        return Source(str(path or uri), language, model, adapter, latency_ms, prompt)

    def _record(self, uri: str, answered: str, offers: list[Offer], source: Source,
                replaces: str | None = None) -> list[str]:
        tracker = self._current()
        if tracker is not None:
            doc = self.ls.docs.get(uri)
            try:
                ids = tracker.shown(uri, answered, doc.text if doc is not None else answered, offers, source, replaces)
                self._schedule()
                return ids
            except Exception:  # the figures must never cost the user a suggestion
                log.exception("suggestion statistics: recording a suggestion failed")
        return [secrets.token_hex(6) for _ in offers]  # statistics off: the ids are still the protocol's

    def completion_ids(self, uri: str, answered: str, result: CompletionResult,
                       block: bool = False) -> list[tuple[str, str]]:
        """(id, kind) of each of a completion's items (``answered``: the text the request was answered on).
        ``block``: these are the whole block of a first-line answer (``EXTENDED``), which
        they replace."""
        latency = result.timings.get("total_s")
        source = self._source(uri, round(1000 * latency, 1) if latency is not None else self.ls.last_latency_ms,
                              result.prompt)
        offers = []
        for item in result.items:
            start = line_start(answered, item.line) + item.col
            end = line_start(answered, item.end_line) + item.end_col
            kind = "fim_block" if "\n" in item.text.strip() or block else "fim_line"
            offers.append(Offer(start, end, item.text, kind))
        ids = self._record(uri, answered, offers, source, self._first_line.pop(uri, None) if block else None)
        if not block and result.stop_reason == "first_line" and ids:
            self._first_line[uri] = ids[0]
        return [(sid, offer.kind) for sid, offer in zip(ids, offers)]

    def shown(self, uri: str, kind: str, new_text: str, lsp_range: Any, *, latency_ms: float | None = None,
              prompt: str = "", answered: str | None = None) -> str:
        """The id of one suggestion that replaces ``lsp_range`` (an LSP Range, as a dict or
        object, in the client's units) with ``new_text``; for next edits (``kind`` "next_edit").
        ``answered``: the document text it was computed on (default: the current text)."""
        if kind not in KINDS:
            raise ValueError(f"unknown suggestion kind {kind!r}; expected one of {', '.join(KINDS)}")
        if answered is None:
            doc = self.ls.docs.get(uri)
            answered = doc.text if doc is not None else ""
        r = _fields(lsp_range)
        start, end = _fields(r.get("start")), _fields(r.get("end"))
        enc = self.ls.encoding
        offer = Offer(to_offset(answered, int(start.get("line", 0)), int(start.get("character", 0)), enc),
                      to_offset(answered, int(end.get("line", 0)), int(end.get("character", 0)), enc), new_text, kind)
        return self._record(uri, answered, [offer], self._source(uri, latency_ms, prompt))[0]

    # -- what the client says --------------------------------------------------------------
    def accepted(self, args: tuple | list) -> None:
        """``qwenpair.accepted`` / ``qwenpair.nextEdit`` with ``[{"id", "kind"}]``."""
        arg = args[0] if args else None
        sid = arg.get("id") if isinstance(arg, dict) else None
        if not isinstance(sid, str):
            log.debug("%s without an id (%r): nothing recorded", ACCEPTED, args)
            return
        self._report(sid, "accepted", None)

    def notified(self, params: Any) -> None:
        """``qwenpair/suggestionOutcome``: {"id", "outcome", "acceptedChars"?, "uri"?}."""
        p = _fields(params)
        sid, outcome, chars = p.get("id"), p.get("outcome"), p.get("acceptedChars")
        if not isinstance(sid, str) or outcome not in REPORTED:
            log.warning("%s ignored: expected {id: string, outcome: %s}, got %r", NOTIFICATION,
                        " | ".join(REPORTED), p)
            return
        if outcome == "partial" and (not isinstance(chars, int) or isinstance(chars, bool) or chars < 0):
            log.warning("%s ignored: a partial outcome needs acceptedChars, a non-negative integer (got %r)",
                        NOTIFICATION, chars)
            return
        self._report(sid, outcome, chars)

    def _report(self, sid: str, outcome: str, chars: int | None) -> None:
        tracker = self._current()
        if tracker is None:
            return
        try:
            if not tracker.reported(sid, outcome, chars):
                log.debug("suggestion %s: %s not recorded (unknown id, or an outcome already recorded wins)",
                          sid, outcome)
            self._schedule()
        except Exception:
            log.exception("suggestion statistics: recording an outcome failed")

    # -- the document ----------------------------------------------------------------------
    def changed(self, uri: str, text: str, changes: list | None = None) -> None:
        """The document now reads ``text``; ``changes`` are the didChange's ``documents.Change``s.
        One ranged change is handed over as an offset edit, so that a large document is not
        compared whole at every keystroke while a suggestion is followed."""
        if self.tracker is not None:
            try:
                before = self.tracker.text_of(uri)
                edit = None
                if before is not None and changes is not None and len(changes) == 1 and changes[0].range is not None:
                    sl, sc, el, ec = changes[0].range
                    start = to_offset(before, sl, sc, self.ls.encoding)
                    edit = (start, max(start, to_offset(before, el, ec, self.ls.encoding)), changes[0].text)
                self.tracker.changed(uri, text, edit)
                self._schedule()
            except Exception:  # a document change must go on to the engine whatever happens here
                log.exception("suggestion statistics: following a change failed")

    def closed(self, uri: str) -> None:
        self._first_line.pop(uri, None)
        if self.tracker is not None:
            try:
                self.tracker.closed(uri)
            except Exception:
                log.exception("suggestion statistics: closing a document failed")

    # -- qwenpair.status -------------------------------------------------------------------
    def today(self) -> dict[str, Any]:
        """Today's figures (since local midnight), or {"enabled": false} (with the ``problem``
        when the settings want figures but the store cannot be opened)."""
        tracker = self._current()
        if tracker is None:
            return {"enabled": False, **({"problem": self.problem} if self.problem else {})}
        tracker.tick()
        figures = group_figures(tracker.store.rows(since=start_of_day()))
        return {"enabled": True, **figures}
