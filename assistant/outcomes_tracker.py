"""What the editor does not report about a suggestion, inferred from the document's changes.

The client says when a suggestion is accepted (whole or in part) or dismissed
(``reported``). The tracker follows each live suggestion through the document's texts
(``changed``: the whole new text; the change is found by comparing it with the last one) and
concludes the rest (docs/stats.md, "Outcomes"):

- typed over: the document changed on the suggestion's line(s) in a way that does not type
  or insert the suggestion itself (typing the suggestion's own next characters, or the
  client's accept edit, keeps it alive);
- ignored: a newer suggestion of its family was shown (``_family``), another suggestion was
  taken instead, the document changed elsewhere, it was closed, or nothing happened for
  ``pending_s``;
- after an accept, the accepted characters still in the document ``RETENTION_S`` seconds later
  (each change moves, shortens or splits the spans they occupy), and a reversal: within
  ``REVERSAL_S`` seconds the document is back to its text before the accept edit (an undo),
  or none of the accepted characters is left (the only test in a document over the large-
  document size, whose previous text is not kept).

Time comes from ``clock`` (seconds since the epoch; tests pass their own, so nothing sleeps).
A measurement is taken at the first call after it is due (``tick``, or before a change is
applied): the document only changes through ``changed``, so the state then is the state at
the due time. Offsets are Unicode code points into the document text. Not thread-safe.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Callable

from assistant.large_document import is_large
from assistant.outcomes import RETENTION_S, REVERSAL_S, OutcomeStore, Shown
from repo_index.documents import common_prefix, common_suffix

#: The text before the cursor that identifies a position (a 50 MB document is not hashed whole
#: at every suggestion; this much context is as good as all of it).
POSITION_CHARS = 8192
#: A suggestion nobody acted on is "ignored" after this many seconds.
PENDING_S = 600.0
#: How far (characters) a pure insertion or deletion may be slid to where the suggestion is:
#: typing "a" after an "a" reads as either position.
_SLIDE = 256


@dataclass(frozen=True)
class Offer:
    """One suggestion in an answer: it replaces ``[start, end)`` of the answered text with ``text``."""

    start: int
    end: int
    text: str
    kind: str


@dataclass(frozen=True)
class Source:
    """What the store records about where the suggestions came from."""

    path: str  # hashed before it is stored
    language: str
    model: str
    adapter: str | None
    latency_ms: float | None
    prompt: str = ""


@dataclass
class _Live:
    id: str
    uri: str
    kind: str
    text: str
    anchor: int  # where the suggestion starts, in the current text
    replace: int  # characters after the typed part that the suggestion replaces
    shown_at: float
    typed: int = 0  # characters of ``text`` already in the document (typed through or inserted)
    final: str | None = None  # an inferred outcome: kept a little for a late accept
    accepted: str | None = None  # the accepted text (all of ``text``, or its first characters)
    accepted_at: float = 0.0
    before_accept: str | None = None  # the document before the accept edit
    prior: int = 0  # characters accepted (and found) before this accept: a later part's undo keeps them
    spans: list[list[int]] | None = None  # [start, length] of the accepted characters left
    checks: list[tuple[float, object]] = field(default_factory=list)  # (due, "reversal" | seconds)


class OutcomeTracker:
    def __init__(self, store: OutcomeStore, *, clock: Callable[[], float] = time.time,
                 reversal_s: float = REVERSAL_S, retention_s: tuple[float, float] = RETENTION_S,
                 pending_s: float = PENDING_S) -> None:
        self.store = store
        self.clock = clock
        self.reversal_s = reversal_s
        self.retention_s = retention_s
        self.pending_s = pending_s
        self._live: dict[str, _Live] = {}
        self._texts: dict[str, str] = {}  # the last text of each document with live suggestions
        self._before: dict[str, str] = {}  # and the one before it (the text an accept edit replaced)

    # -- events ----------------------------------------------------------------------------
    def shown(self, uri: str, answered: str, current: str, offers: list[Offer], source: Source,
              replaces: str | None = None) -> list[str]:
        """Record the suggestions of one answer (computed on the text ``answered``; the document
        is ``current`` now) and return their ids. One the document has already moved away from
        (typed over before it came) is not recorded: the editor never showed it. The same
        suggestion shown again at the same place (or its rest, where the user typed its first
        characters) keeps its id. Other pending suggestions of the same family become
        "ignored", except ``replaces`` (a block's first line, which its block supersedes): that
        one is forgotten."""
        now = self.clock()
        self._due(now)
        if replaces is not None:
            first = self._live.get(replaces)
            if first is not None and first.accepted is None and first.final is None:
                self.store.forget(replaces)
                del self._live[replaces]
        ids: list[str] = []
        # shown again: the same text at the same place, or what is left of it after typing through
        again = {(lv.uri, lv.anchor + lv.typed, lv.text[lv.typed:], lv.kind): lv.id for lv in self._live.values()
                 if lv.accepted is None and lv.final is None}
        moved = _diff(answered, current)  # typed on while it was computed
        fresh = [o for o in offers if moved is not None or (uri, o.start, o.text, o.kind) not in again]
        keep = {again[(uri, o.start, o.text, o.kind)] for o in offers if o not in fresh}
        families = {_family(o.kind) for o in offers}
        for live in list(self._live.values()):
            if (live.accepted is None and live.final is None and live.id not in keep
                    and _family(live.kind) in families):
                self._finish(live, "ignored", now)
        file_hash = self.store.file_hash(source.path)
        for offer in offers:
            if offer not in fresh:
                ids.append(again[(uri, offer.start, offer.text, offer.kind)])
                continue
            sid = secrets.token_hex(6)
            ids.append(sid)
            live = _Live(sid, uri, offer.kind, offer.text, offer.start, offer.end - offer.start, now)
            if moved is not None and self._apply(live, answered, current, _slide(answered, moved, offer.start)) in (
                    "typed_over", "ignored"):
                continue  # the user typed on meanwhile, not the suggestion: never seen
            eol = answered.find("\n", offer.end)
            before = answered[max(0, offer.start - POSITION_CHARS):offer.start]
            position = self.store.position_hash(file_hash, before, answered[offer.end:len(answered) if eol < 0 else eol])
            self.store.record_shown(Shown(sid, now, offer.kind, source.language, file_hash, position, offer.text,
                                          source.latency_ms, source.model, source.adapter, source.prompt))
            self._live[sid] = live
        if any(lv.uri == uri for lv in self._live.values()):
            self._texts.setdefault(uri, current)
        return ids

    def reported(self, sid: str, outcome: str, accepted_chars: int | None = None) -> bool:
        """A client's report ("accepted", "partial" with ``accepted_chars``, "dismissed");
        whether it changed the record (False: an unknown id, or an outcome that does not win)."""
        now = self.clock()
        self._due(now)
        changed = self.store.record_outcome(sid, outcome, now, accepted_chars)
        live = self._live.get(sid)
        if live is None or not changed:
            return changed
        if outcome == "dismissed":
            del self._live[sid]
            return changed
        live.final = None
        live.prior = len(live.accepted) if live.accepted and live.spans else 0
        chars = len(live.text) if outcome == "accepted" else max(0, min(int(accepted_chars or 0), len(live.text)))
        live.accepted, live.accepted_at = live.text[:chars], now
        live.checks = [(now + self.reversal_s, "reversal")] + [
            (now + delay, nominal) for delay, nominal in zip(self.retention_s, RETENTION_S)]  # stored as 30 / 120
        live.spans = None
        if live.accepted:
            self._locate(live, self._texts.get(live.uri), self._before.get(live.uri))
        for other in list(self._live.values()):  # the alternatives offered beside it
            if (other.uri == live.uri and other is not live and other.accepted is None and other.final is None
                    and _family(other.kind) == _family(live.kind)):
                self._finish(other, "ignored", now)
        return changed

    def changed(self, uri: str, text: str, edit: Edit | None = None) -> None:
        """The document ``uri`` now reads ``text``; ``edit`` is the change as the editor sent it
        ([start, end) of the last text and the new text), when it was one range: without it
        the texts are compared, which for a large document costs a few copies of it."""
        old = self._texts.get(uri)
        if old is None:
            return
        if edit is not None and len(old) - (edit[1] - edit[0]) + len(edit[2]) != len(text):
            edit = None  # not the change from the text the tracker holds
        found = edit if edit is not None else _diff(old, text)
        if found is None:
            return
        now = self.clock()
        self._due(now)
        lives = [lv for lv in self._live.values() if lv.uri == uri]
        verdicts = {lv.id: self._apply(lv, old, text, found if edit is not None else
                                       _slide(old, found, lv.anchor + lv.typed)) for lv in lives}
        taken = "through" in verdicts.values()
        for live in lives:
            verdict = verdicts[live.id]
            if verdict in ("typed_over", "ignored"):  # when another suggestion was taken: ignored
                self._finish(live, "ignored" if taken else verdict, now)
        self._texts[uri] = text
        if is_large(old):  # not held twice: its undo is told by the accepted characters all gone
            self._before.pop(uri, None)
        else:
            self._before[uri] = old
        self._forget_idle()

    def closed(self, uri: str) -> None:
        """The document closed: its pending suggestions were ignored; accepts still being
        measured are left unmeasured from here."""
        now = self.clock()
        self._due(now)
        for live in [lv for lv in self._live.values() if lv.uri == uri]:
            if live.accepted is None and live.final is None:
                self._finish(live, "ignored", now)
            self._live.pop(live.id, None)
        self._forget_idle()

    def tick(self) -> float | None:
        """Take the measurements that are due and expire old pending suggestions; returns
        when the next measurement is due (None: none waits)."""
        now = self.clock()
        self._due(now)
        for live in list(self._live.values()):
            if live.accepted is None and live.final is None and now - live.shown_at >= self.pending_s:
                self._finish(live, "ignored", now)
        self._forget_idle()
        dues = [c[0] for lv in self._live.values() for c in lv.checks]
        return min(dues) if dues else None

    def close(self) -> None:
        """Shutting down: what is pending was ignored; measurements not yet due stay unknown."""
        now = self.clock()
        self._due(now)
        for live in list(self._live.values()):
            if live.accepted is None and live.final is None:
                self._finish(live, "ignored", now)
        self._live.clear()
        self._texts.clear()
        self._before.clear()

    def live_ids(self) -> list[str]:
        return list(self._live)

    def text_of(self, uri: str) -> str | None:
        """The last text of ``uri`` the tracker knows (None: it follows no suggestion there)."""
        return self._texts.get(uri)

    # -- inference -------------------------------------------------------------------------
    def _finish(self, live: _Live, outcome: str, now: float) -> None:
        self.store.record_outcome(live.id, outcome, now)
        live.final, live.checks = outcome, []

    def _apply(self, live: _Live, old: str, new: str, edit: Edit) -> str | None:
        """Follow ``live`` through the change ``old`` -> ``new``, which is ``edit``: "through"
        when it typed or inserted the suggestion itself, the outcome the suggestion ends with
        ("typed_over", "ignored"), or None."""
        start, end, inserted = edit
        low, high = live.anchor, live.anchor + live.typed + live.replace
        if end < low or (end == low and start < end):  # before the suggestion: it moves
            live.anchor += len(inserted) - (end - start)
        if live.spans is not None:
            self._measure(live, start, end, len(inserted), new)
            return None
        if live.final is None and start >= low and end <= high:
            n = start - low + len(inserted)
            if n <= len(live.text) and new[low:low + n] == live.text[:n]:
                live.typed, live.replace = n, high - end  # typed through, or the accept edit
                if live.accepted is not None:
                    self._locate(live, new, old)
                return "through"
        if live.final is not None:
            return None
        if live.accepted is not None:  # the accept edit never came as expected: unmeasured
            live.checks = []
            return None
        return "typed_over" if _touches(old, low, start, end, high) else "ignored"

    def _locate(self, live: _Live, text: str | None, before: str | None) -> None:
        """Start measuring once the accepted text is in the document at the suggestion's place."""
        if text is None or live.accepted is None:
            return
        at = live.anchor
        if text[at:at + len(live.accepted)] == live.accepted:
            # the last change put it there (the accept edit): ``before`` is what an undo restores
            live.spans, live.before_accept = [[at, len(live.accepted)]], before

    def _measure(self, live: _Live, start: int, end: int, inserted: int, new: str) -> None:
        live.spans = _shift(live.spans, start, end, inserted)
        if any(c[1] == "reversal" for c in live.checks):
            if new == live.before_accept and live.prior:  # the last part undone: the earlier ones stay
                live.spans, live.before_accept = [[live.anchor, live.prior]], None
            elif new == live.before_accept or not live.spans:
                live.spans = []
                live.checks = [c for c in live.checks if c[1] != "reversal"]
                self.store.record_reversed(live.id, True)

    def _due(self, now: float) -> None:
        for live in list(self._live.values()):
            while live.checks and live.checks[0][0] <= now:
                _, what = live.checks.pop(0)
                if live.spans is None:
                    continue  # never found in the document: unknown
                if what == "reversal":
                    self.store.record_reversed(live.id, False)
                else:
                    self.store.record_retained(live.id, int(what), sum(length for _, length in live.spans))

    def _forget_idle(self) -> None:
        """Drop what has nothing left to do, and the texts of documents no suggestion follows."""
        now = self.clock()
        for live in list(self._live.values()):
            done = (live.final is not None and now - live.shown_at >= self.reversal_s) or (
                live.accepted is not None and not live.checks)
            if done:
                del self._live[live.id]
        followed = {lv.uri for lv in self._live.values()}
        for uri in list(self._texts):
            if uri not in followed:
                self._texts.pop(uri, None)
                self._before.pop(uri, None)


def _family(kind: str) -> str:
    """Completions and next edits are shown side by side (a ghost text and an edit overlay): a
    newer one replaces only its own family."""
    return "next_edit" if kind == "next_edit" else "completion"


def _touches(text: str, low: int, start: int, end: int, high: int) -> bool:
    """Whether the edit [start, end) touches the line(s) of the suggestion at [low, high)."""
    line_start = text.rfind("\n", 0, low) + 1
    line_end = text.find("\n", high)
    return start <= (len(text) if line_end < 0 else line_end) and end >= line_start


Edit = tuple[int, int, str]  # [start, end) of the old text, replaced by the inserted text


def _diff(old: str, new: str) -> Edit | None:
    """The one edit that turns ``old`` into ``new`` (None: the same text)."""
    if len(old) == len(new) and old == new:
        return None
    p = common_prefix(old, new)
    s = common_suffix(old, new, min(len(old), len(new)) - p)
    return p, len(old) - s, new[p:len(new) - s]


def _slide(old: str, edit: Edit, hint: int) -> Edit:
    """A pure insertion or deletion found inside a run of equal characters could be at several
    places: slid left toward ``hint`` (where the suggestion's typing would be)."""
    start, end, inserted = edit
    for _ in range(_SLIDE):
        if start <= hint:
            break
        if end == start and old[start - 1] == inserted[-1]:  # an insertion
            inserted = old[start - 1] + inserted[:-1]
        elif not inserted and old[start - 1] == old[end - 1]:  # a deletion
            pass
        else:
            break
        start, end = start - 1, end - 1
    return start, end, inserted


def _shift(spans: list[list[int]], start: int, end: int, inserted: int) -> list[list[int]]:
    """The spans after replacing [start, end) with ``inserted`` characters: a span after the
    edit moves, one inside loses what was replaced (inserted text is not accepted text)."""
    delta = inserted - (end - start)
    out: list[list[int]] = []
    for s, length in spans:
        e = s + length
        if e <= start:
            out.append([s, length])
        elif s >= end:
            out.append([s + delta, length])
        else:
            if start > s:
                out.append([s, start - s])
            if e > end:
                out.append([end + delta, e - end])
    return [sp for sp in out if sp[1] > 0]
