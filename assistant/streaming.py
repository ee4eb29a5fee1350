"""Streaming a multi-line suggestion: its first line is handed over as soon as the model has
written it, while the model goes on with the block (docs/lsp.md, "Multi-line suggestions").

``FirstLine`` is the backend's ``on_text`` callback for one generation; ``settle`` gives the
first-line future the whole result when no first line came before it. The engine wires them
to its cache and scheduler; nothing here knows either.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError

from assistant.postprocess import Shown
from assistant.request import CompletionResult


class FirstLine:
    """At each new line of the stream, until one is handed over: shape the text up to it (as
    when the time cap cuts there) and, if that leaves something to show, ``publish`` it
    and set ``future`` to what ``publish`` returns."""

    def __init__(self, future: Future, shape: Callable[[str], Shown], publish: Callable[[Shown], CompletionResult],
                 cancel: threading.Event) -> None:
        self.future = future
        self._shape = shape
        self._publish = publish
        self._cancel = cancel
        self._pieces: list[str] = []
        self.shown: Shown | None = None  # the first line handed over, if any

    def __call__(self, piece: str) -> None:
        self._pieces.append(piece)
        if self.shown is not None or self.future.done() or self._cancel.is_set() or "\n" not in piece:
            return
        text = "".join(self._pieces)
        shown = self._shape(text[: text.rfind("\n")])
        if not shown.text.strip():
            return  # a blank first line (the block starts on the next one): wait for code
        self.shown = shown
        result = self._publish(shown)
        try:
            self.future.set_result(result)
        except InvalidStateError:
            pass  # the whole result was already there


def settle(first: Future, final: Future, transform: Callable[[CompletionResult], CompletionResult] | None = None) -> None:
    """``first`` takes ``final``'s outcome (its result through ``transform``) unless a first
    line already set it, or it was cancelled."""
    if first.done():
        return
    try:
        if final.cancelled():
            first.cancel()
        elif final.exception() is not None:
            first.set_exception(final.exception())
        else:
            result = final.result()
            first.set_result(transform(result) if transform is not None else result)
    except InvalidStateError:
        pass
