"""Edit history of the open documents: what next-edit suggestions learn the user's intent from.

For each open document it keeps the text it had when the editing session started (the
"original"), the recent edits as line diffs, and, across documents, the files viewed or edited
recently (docs/next-edit.md, "Edit history"). It is not a prompt builder (``model.nes_prompt``)
and knows nothing of LSP: the language server calls ``open``/``update``/``rename``/``close``.

Rules, each with its test in tests/assistant/test_edit_history.py:

- Keystrokes coalesce: a change that lies inside the lines the previous edit produced is merged
  into it, so typing a word (or a few lines) is one edit, not one per character. An edit that
  returns its lines to what they were (typed then deleted, an undo) disappears.
- Undo storms are bounded: an undo that exactly reverses the newest edit removes it instead of
  adding a second one, and every update costs a comparison of the changed lines only (the
  common head and tail are skipped first).
- Memory is bounded: at most ``max_edits`` edits and ``max_edit_chars`` characters of edit
  text per document, the oldest dropped; the original is kept only up to ``max_original_chars``;
  at most ``max_recent`` recent files. Closing a document drops everything about it.
- A huge change (a paste of thousands of lines) is never kept whole: it is recorded as a
  summary (``LineEdit.summary``) whose text is empty, and prompts leave it out.
- Nothing refused by the workspace's source policy (``assistant.retrieval.PromptPolicy``, the
  one policy of docs/security.md: secret names or content, ignored files, binary text) enters
  the history. A document whose text becomes refused (a pasted key) loses its history at once.
- A rename carries the history to the new name, judged again under the new name: from
  ``rename`` (workspace/didRenameFiles) or a close and an open of the same text within a few
  seconds (how editors rename an open file).
"""

from __future__ import annotations

import difflib
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

#: (path, text) -> (allowed, reason): ``assistant.retrieval.PromptPolicy`` is one.
PathPolicy = Callable[[Path, "str | None"], tuple[bool, str]]


@dataclass(frozen=True)
class HistoryLimits:
    """Bounds of the history's memory."""

    max_edits: int = 32  # edits kept per document (prompts use at most 15; docs/next-edit.md)
    max_edit_chars: int = 64_000  # characters of edit text kept per document
    max_original_chars: int = 2_000_000  # a bigger document keeps no original (its windows compare to the current text)
    max_recent: int = 16  # recently viewed or edited files remembered
    max_hunk_lines: int = 200  # a change over this many lines (either side) is kept only as a summary
    max_hunk_chars: int = 16_000  # likewise in characters
    max_coalesced_lines: int = 12  # keystrokes merge into an edit until it spans this many lines
    max_diff_lines: int = 2_000  # a changed region larger than this is one hunk (difflib is quadratic)
    rename_window_s: float = 5.0  # a close then an open of the same text within this is a rename


@dataclass(frozen=True)
class LineEdit:
    """One edit: lines ``start .. start+len(before)`` of the text before it became ``after``.

    ``start`` is 0-based. Lines carry no line breaks. ``summary`` is set (and ``before`` and
    ``after`` empty) for a change too large to keep."""

    path: str
    start: int
    before: tuple[str, ...]
    after: tuple[str, ...]
    at: float = 0.0  # time.monotonic() of its last keystroke
    summary: str = ""

    @property
    def chars(self) -> int:
        return sum(len(s) + 1 for s in self.before) + sum(len(s) + 1 for s in self.after)


@dataclass
class _Document:
    path: str
    original: tuple[str, ...] | None  # None: too large to keep
    lines: list[str]
    edits: deque[LineEdit] = field(default_factory=deque)
    chars: int = 0


def split_lines(text: str) -> list[str]:
    """Lines of ``text`` without their breaks; a final line break adds no empty line."""
    lines = text.split("\n")
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()
    return [s[:-1] if s.endswith("\r") else s for s in lines]


def line_hunks(old: list[str], new: list[str], max_diff_lines: int = 2_000) -> list[tuple[int, list[str], list[str]]]:
    """The changes from ``old`` to ``new`` as (start in old, old lines, new lines), in order.

    The common head and tail are skipped first, so a keystroke compares one line; a changed
    middle of up to ``max_diff_lines`` lines is split into minimal hunks, a larger one is one hunk."""
    head = 0
    limit = min(len(old), len(new))
    while head < limit and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < limit - head and old[len(old) - 1 - tail] == new[len(new) - 1 - tail]:
        tail += 1
    a, b = old[head : len(old) - tail], new[head : len(new) - tail]
    if not a and not b:
        return []
    if len(a) + len(b) > max_diff_lines or len(a) <= 1 or len(b) <= 1:
        return [(head, a, b)]
    out = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op != "equal":
            out.append((head + i1, a[i1:i2], b[j1:j2]))
    return out


class EditHistory:
    """The history of every open document. Thread-safe."""

    def __init__(self, policy: PathPolicy, limits: HistoryLimits | None = None, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self.limits = limits or HistoryLimits()
        self._clock = clock
        self._docs: dict[str, _Document] = {}
        self._recent: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()
        #: the document closed last and when: an editor renames an open file as a close of the
        #: old name and an open of the new one with the same text (held only that long)
        self._closed: tuple[_Document, float] | None = None
        #: path -> why it has no history (refused by the policy); for status and logs
        self.refused: dict[str, str] = {}

    # -- lifecycle ------------------------------------------------------------------------
    def open(self, path: str | Path, text: str) -> bool:
        """Start the history of ``path`` with ``text`` as its original. False when refused."""
        key = str(path)
        lines = split_lines(text)
        with self._lock:
            known, closed = key in self._docs, None
            if not known:
                closed, self._closed = self._closed, None
        if known:  # open again (after a workspace rename): the history stays, the text is an update
            return self.update(key, text)
        if closed is not None and closed[0].path != key and closed[0].lines == lines \
                and self._clock() - closed[1] <= self.limits.rename_window_s:
            with self._lock:
                self._docs[closed[0].path] = closed[0]
            return self.rename(closed[0].path, key)  # the close and open were a rename
        allowed, reason = self._judge(key, text)
        with self._lock:
            if not allowed:
                self._forget(key, reason)
                return False
            self.refused.pop(key, None)
            original = tuple(lines) if len(text) <= self.limits.max_original_chars else None
            self._docs[key] = _Document(key, original, lines)
            self._touch(key)
        return True

    def close(self, path: str | Path) -> None:
        """Drop everything about ``path`` (held a few seconds for a rename: ``open``)."""
        with self._lock:
            key = str(path)
            doc = self._docs.pop(key, None)
            self._closed = (doc, self._clock()) if doc is not None and doc.edits else None
            self._recent.pop(key, None)
            self.refused.pop(key, None)

    def viewed(self, path: str | Path) -> None:
        """``path`` was shown to the user (focus, a jump): it moves to the front of the recent files."""
        with self._lock:
            if str(path) in self._docs:
                self._touch(str(path))

    def rename(self, old: str | Path, new: str | Path, text: str | None = None) -> bool:
        """Carry the history of ``old`` to ``new`` (its text ``text``, default the current one),
        judged again under the new name: a rename to a secret name drops it. False when dropped."""
        with self._lock:
            doc = self._docs.pop(str(old), None)
            self._recent.pop(str(old), None)
        if doc is None:
            return False if text is None else self.open(new, text)
        key = str(new)
        current = "\n".join(doc.lines) if text is None else text
        allowed, reason = self._judge(key, current)
        with self._lock:
            if not allowed:
                self._forget(key, reason)
                return False
            doc.path = key
            doc.edits = deque(replace(e, path=key) for e in doc.edits)
            self._docs[key] = doc
            self._touch(key)
        if text is not None:
            self.update(key, text)
        return True

    # -- edits ----------------------------------------------------------------------------
    def update(self, path: str | Path, text: str) -> bool:
        """Record the document's new full text. False when it has no history (not open, refused)."""
        key = str(path)
        with self._lock:
            doc = self._docs.get(key)
            old = doc.lines if doc is not None else None
        if doc is None:
            return False
        allowed, reason = self._judge(key, text)
        new = split_lines(text)
        with self._lock:
            if not allowed:
                self._forget(key, reason)
                return False
            if self._docs.get(key) is not doc or doc.lines is not old:
                return False  # closed, renamed or updated meanwhile: the newer state stands
            now = self._clock()
            for start, before, after in reversed(line_hunks(old, new, self.limits.max_diff_lines)):
                # newest-last in the document's order is applied bottom-up so starts stay valid
                self._record(doc, start, before, after, now)
            doc.lines = new
            self._touch(key)
        return True

    def _record(self, doc: _Document, start: int, before: list[str], after: list[str], now: float) -> None:
        lim = self.limits
        chars = sum(len(s) + 1 for s in before) + sum(len(s) + 1 for s in after)
        if max(len(before), len(after)) > lim.max_hunk_lines or chars > lim.max_hunk_chars:
            what = "pasted" if len(after) >= len(before) else "deleted"
            count = max(len(before), len(after))
            self._push(doc, LineEdit(doc.path, start, (), (), now,
                                     summary=f"{what} {count:,} lines at line {start + 1}"))
            return
        last = doc.edits[-1] if doc.edits else None
        if last is not None and not last.summary:
            lo, hi = last.start, last.start + len(last.after)
            if (start, tuple(before), tuple(after)) == (last.start, last.after, last.before):
                self._pop_last(doc)  # an undo of the newest edit: it goes, nothing is added
                return
            if lo <= start and start + len(before) <= hi and (start < hi or not before):
                merged = last.after[: start - lo] + tuple(after) + last.after[start - lo + len(before) :]
                if max(len(merged), len(last.before)) <= lim.max_coalesced_lines:
                    self._pop_last(doc)
                    if merged != last.before:  # typed and deleted again: no edit left
                        self._push(doc, LineEdit(doc.path, last.start, last.before, merged, now))
                    return
        self._push(doc, LineEdit(doc.path, start, tuple(before), tuple(after), now))

    def _push(self, doc: _Document, edit: LineEdit) -> None:
        doc.edits.append(edit)
        doc.chars += edit.chars
        while len(doc.edits) > 1 and (len(doc.edits) > self.limits.max_edits or doc.chars > self.limits.max_edit_chars):
            doc.chars -= doc.edits.popleft().chars

    def _pop_last(self, doc: _Document) -> None:
        doc.chars -= doc.edits.pop().chars

    # -- reading --------------------------------------------------------------------------
    def edits(self, path: str | Path | None = None) -> list[LineEdit]:
        """Recent edits, oldest first: of ``path``, or of every open document by time."""
        with self._lock:
            docs = [self._docs[str(path)]] if path is not None and str(path) in self._docs else (
                [] if path is not None else list(self._docs.values()))
            found = [e for d in docs for e in d.edits]
        return sorted(found, key=lambda e: e.at)

    def last_edited_line(self, path: str | Path) -> int | None:
        """The line the newest edit of ``path`` ends on (where the user was editing: a next edit
        computed ahead is asked for there); None when it has no edit."""
        edits = self.edits(path)
        if not edits:
            return None
        last = edits[-1]
        return last.start + max(len(last.after) - 1, 0)

    def original(self, path: str | Path) -> list[str] | None:
        """The document's lines when its session started (None: not open, or too large to keep)."""
        with self._lock:
            doc = self._docs.get(str(path))
            return list(doc.original) if doc is not None and doc.original is not None else None

    def current(self, path: str | Path) -> list[str] | None:
        with self._lock:
            doc = self._docs.get(str(path))
            return list(doc.lines) if doc is not None else None

    def recent(self) -> list[str]:
        """Recently viewed or edited open files, newest first."""
        with self._lock:
            return list(reversed(self._recent))

    def __contains__(self, path: object) -> bool:
        with self._lock:
            return str(path) in self._docs

    def memory_chars(self) -> int:
        """Characters held (originals, current texts, edits): what the bounds keep in check."""
        with self._lock:
            return sum(sum(len(s) + 1 for s in d.original or ()) + sum(len(s) + 1 for s in d.lines) + d.chars
                       for d in self._docs.values())

    # -- internals ------------------------------------------------------------------------
    def _judge(self, key: str, text: str) -> tuple[bool, str]:
        if "\0" in text:  # what the policy's file reader calls binary (repo_index/policy.py)
            return False, "binary"
        return self.policy(Path(key), text)

    def _forget(self, key: str, reason: str) -> None:
        self._docs.pop(key, None)
        self._recent.pop(key, None)
        self.refused[key] = reason
        while len(self.refused) > 256:
            self.refused.pop(next(iter(self.refused)))

    def _touch(self, key: str) -> None:
        self._recent.pop(key, None)
        self._recent[key] = self._clock()
        while len(self._recent) > self.limits.max_recent:
            self._recent.popitem(last=False)
