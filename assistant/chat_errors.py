"""The errors chat and edit raise: each says what happened and what the user can do.

All are ``user_facing`` (the CLI prints them as one line, exit 2; the language server turns
them into an error response or a message). ``StaleEdit`` is the one a client must tell apart:
the server maps it to LSP ContentModified (-32801).
"""

from __future__ import annotations


class ChatError(Exception):
    """A chat or edit request that cannot be served as asked."""

    user_facing = True


class Refused(ChatError):
    """Bad input or a policy refusal (empty instruction or selection, a selection too large
    for one answer, a file under ignore or secret rules). Nothing was sent to the model."""


class UnusableAnswer(ChatError):
    """The model answered, but not with an edit that can be applied (no code, two
    conflicting code blocks, an answer cut off mid-block, a SEARCH that does not match)."""

    def __init__(self, message: str, raw: str = "") -> None:
        super().__init__(message)
        self.raw = raw  # the model's whole answer, to show the user


class StaleEdit(ChatError):
    """The document changed after the edit was proposed; applying it would clobber the change."""


class Interrupted(ChatError):
    """The user cancelled the request while the model was generating."""
