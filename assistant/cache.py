"""The completion cache: an LRU of results plus typed-ahead consumption.

Keys are the text around the cursor (a hash of the prefix window and the suffix window), so
a result is reused exactly when the model would see the same context. Typed-ahead: while a
suggestion is shown the user may type its first characters; the text before the cursor then
equals an earlier key's text plus what was typed, and the rest of that suggestion is served
with no model call (llama.vim and Copilot do the same).

A multi-line suggestion is stored twice: its first line as soon as the model has written it
(``partial``), then the whole block, under the same key. Typed-ahead rests of a partial
entry are served but not stored, so that once the block lands they are derived from it.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

#: How far back a typed-ahead lookup may look (characters typed since the suggestion).
MAX_TYPED_AHEAD = 64


def _key(path: str, before: str, after: str) -> str:
    h = hashlib.blake2b(digest_size=16)
    for part in (path, before, after):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()


@dataclass(frozen=True)
class CachedCompletion:
    text: str  # the completion as shown
    extra: tuple[str, ...] = ()  # further candidates
    partial: bool = False  # the first line of a block still being generated


@dataclass(frozen=True)
class CacheHit:
    completion: CachedCompletion
    typed: str  # characters typed since the suggestion was made ("" = exact hit)


class CompletionCache:
    """LRU cache; ``before`` is the prefix window, ``after`` the suffix window."""

    def __init__(self, capacity: int = 256) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[str, CachedCompletion] = OrderedDict()
        self.hits = 0
        self.typed_hits = 0
        self.misses = 0

    def put(self, path: str, before: str, after: str, completion: CachedCompletion) -> None:
        key = _key(path, before, after)
        self._entries[key] = completion
        self._entries.move_to_end(key)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def get(self, path: str, before: str, after: str) -> CacheHit | None:
        """An exact hit, or the rest of a suggestion whose start the user has typed."""
        exact = self._entries.get(_key(path, before, after))
        if exact is not None:
            self._entries.move_to_end(_key(path, before, after))
            self.hits += 1
            return CacheHit(exact, "")
        # typed ahead: before == earlier_before + typed, and the suggestion starts with typed
        line_start = before.rfind("\n") + 1
        for n in range(1, min(MAX_TYPED_AHEAD, len(before) - line_start) + 1):
            typed = before[-n:]
            entry = self._entries.get(_key(path, before[:-n], after))
            if entry is None:
                continue
            if entry.text.startswith(typed) and len(entry.text) > len(typed):
                rest = CachedCompletion(
                    entry.text[len(typed) :],
                    tuple(c[len(typed) :] for c in entry.extra if c.startswith(typed) and len(c) > len(typed)),
                    entry.partial,
                )
                if not entry.partial:  # a partial one's block may still land under the earlier key
                    self.put(path, before, after, rest)
                self.typed_hits += 1
                return CacheHit(rest, typed)
        self.misses += 1
        return None

    def discard_partial(self, path: str, before: str, after: str) -> None:
        """Forget the entry for this key if it is a partial one (its block was cancelled:
        asked again, the model writes the whole block)."""
        key = _key(path, before, after)
        entry = self._entries.get(key)
        if entry is not None and entry.partial:
            del self._entries[key]

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
