"""Prompt formats of the Qwen coder families: file-level FIM, repository-level FIM, ChatML.

The one place that writes prompt text. The engine (assistant/) and the training pipeline
(training/) both import it, so a model is trained on exactly the prompts the server sends.
It only builds prompts (strings that know their markers); token budgets and context choice
live in the callers.

Formats (docs/design.md §3):

- file-level FIM, PSM: ``<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>``; no BOS.
- repository-level (technical report, Figure 4; no trailing space after paths)::

      <|repo_name|>{repo_name}
      <|file_sep|>{path1}
      {content1}
      <|file_sep|>{current_path}
      <|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>

- cache-friendly variant: ``middle_start`` (the current line up to the cursor) is written
  after ``<|fim_middle|>`` as the start of the middle, so a keystroke appends a few tokens
  to a cached prefix instead of changing text in front of the whole suffix.
- ChatML for instruct models, with Qwen's default system prompt.

Each family's format (PSM or SPM, repository-level layout or not, the marker strings) is
data in ``model.registry.FORMATS``; the builders take it as ``fmt`` (default Qwen2.5-Coder's).
Marker token IDs are the loaded model's (``model.tokens.SpecialTokens``), given to
``encode_prompt`` by the backend; a prompt records Qwen2.5's IDs only as its default.

Trust (docs/security.md, "control tokens"): every builder returns a ``Prompt``, a ``str``
that also records its pieces in order: the builder's own markers (one control token each)
and text. Repository text, paths, questions and answers are always text pieces, so a file
that spells ``<|im_end|>`` or ``<|file_sep|>`` gets the BPE tokens of those characters, never
the control token. Backends and training tokenize through ``encode_prompt``, which maps each
marker by its string to the model's own ID and never parses text for special tokens. A plain ``str``
is all text: anything that loses the structure (an f-string, ``replace``) fails closed, with
no control tokens at all. Concatenation (``+``) and slicing keep it. Paths and the repository
name are written on their header line with line breaks escaped (``header_line``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from model.registry import DEFAULT_FORMAT, PromptFormat
from model.tokens import (
    CONTROL_TOKENS,
    FILE_SEP,
    FIM_MIDDLE,
    FIM_PREFIX,
    FIM_SUFFIX,
    REPO_NAME,
    REPO_TEXTS,
    TOKEN_IDS,
    MissingSpecialTokens,
    SpecialTokens,
)

#: Bumped whenever any format below changes; recorded beside every checkpoint and adapter.
PROMPT_FORMAT_VERSION = 1

DEFAULT_SYSTEM_PROMPT = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."

FimMode = Literal["psm", "spm"]


@dataclass(frozen=True)
class RepoFile:
    """One file of repository context: its path relative to the repository root and text."""

    path: str
    content: str


@dataclass(frozen=True)
class ChatMessage:
    """One ChatML turn. ``role`` is system, user or assistant."""

    role: str
    content: str


#: One piece of a prompt: its text, and the control-token ID when it is a builder's marker
#: (None: text, tokenized as text whatever it spells).
Piece = tuple[str, "int | None"]


class Prompt(str):
    """Prompt text that knows its pieces: the builder's markers and text, in order.

    It equals, prints and slices as its text, so ``--show-prompt`` and the callers that treat
    a prompt as a string keep working. ``+`` with a string appends or prepends that string as
    text; slicing keeps whole markers (a marker cut in two becomes text). Every other string
    operation returns a plain ``str``, which ``encode_prompt`` treats as all text.
    """

    pieces: tuple[Piece, ...]

    def __new__(cls, pieces: Iterable[Piece] = ()) -> Prompt:
        if isinstance(pieces, str):
            raise TypeError("Prompt takes pieces; use model.prompt.as_text(s) for text")
        merged: list[Piece] = []
        run: list[str] = []  # adjacent text is one piece: it is tokenized as one run, as before
        for text, token_id in pieces:
            if token_id is None:
                run.append(text)
                continue
            if TOKEN_IDS.get(text) != token_id:
                raise ValueError(f"{text!r} is not the control token {token_id}")
            if any(run):
                merged.append(("".join(run), None))
            run = []
            merged.append((text, token_id))
        if any(run):
            merged.append(("".join(run), None))
        self = super().__new__(cls, "".join(t for t, _ in merged))
        self.pieces = tuple(merged)
        return self

    def __getnewargs__(self) -> tuple[tuple[Piece, ...]]:  # pickling
        return (self.pieces,)

    def __add__(self, other: object) -> Prompt:
        if isinstance(other, str):
            return Prompt(self.pieces + pieces_of(other))
        return NotImplemented

    def __radd__(self, other: object) -> Prompt:
        if isinstance(other, str):
            return Prompt(pieces_of(other) + self.pieces)
        return NotImplemented

    def __getitem__(self, key):
        if not isinstance(key, slice):
            return str.__getitem__(self, key)
        start, stop, step = key.indices(len(self))
        if step != 1:
            return str.__getitem__(self, key)
        out: list[Piece] = []
        at = 0
        for text, token_id in self.pieces:
            end = at + len(text)
            lo, hi = max(start, at), min(stop, end)
            if lo < hi:
                out.append((text[lo - at : hi - at], token_id if (lo, hi) == (at, end) else None))
            at = end
        return Prompt(out)

    @property
    def markers(self) -> list[tuple[int, str]]:
        """(character offset, token text) of every marker, in order."""
        found, at = [], 0
        for text, token_id in self.pieces:
            if token_id is not None:
                found.append((at, text))
            at += len(text)
        return found


def pieces_of(text: str) -> tuple[Piece, ...]:
    """A prompt's pieces; a plain ``str`` is one text piece."""
    if isinstance(text, Prompt):
        return text.pieces
    return ((str(text), None),) if text else ()


def marker(token: str) -> Prompt:
    """One control token as a prompt piece (``marker(ENDOFTEXT)`` after a training sample)."""
    return Prompt([(token, TOKEN_IDS[token])])


def as_text(value: str) -> Prompt:
    """``value`` as text, even if it is a ``Prompt``: its markers lose their meaning."""
    return Prompt([(str(value), None)])


_CONTROL_TEXT = re.compile("|".join(re.escape(t) for t in sorted(CONTROL_TOKENS, key=len, reverse=True)))


def trusted_markup(value: str) -> Prompt:
    """Text we or the model file wrote (a chat template's own output), where the spelling of
    a control token *is* that token. Never for repository text, paths or messages."""
    out: list[Piece] = []
    at = 0
    for m in _CONTROL_TEXT.finditer(value):
        out += [(value[at : m.start()], None), (m.group(), TOKEN_IDS[m.group()])]
        at = m.end()
    out.append((value[at:], None))
    return Prompt(out)


def spells_control_tokens(prompt: str) -> bool:
    """Whether a text piece of ``prompt`` spells a control token: a tokenizer that parses
    special tokens (a remote server given the prompt as a string) would make it one."""
    return any(token_id is None and _CONTROL_TEXT.search(value) for value, token_id in pieces_of(prompt))


def encode_prompt(
    prompt: str, encode_text: Callable[[str], list[int]], special: SpecialTokens | None = None
) -> list[int]:
    """Token IDs of ``prompt``: each marker is its control token, each text piece goes through
    ``encode_text``, which must tokenize as text (llama.cpp ``special=False``; for
    ``tokenizers``, ``model.text_tokens``). Text pieces lie between markers, exactly as a
    whole-string tokenizer splits at control tokens, so ordinary prompts get today's IDs.

    ``special``: the loaded model's IDs, looked up by each marker's string (None: the IDs the
    prompt recorded, Qwen2.5's). A marker the model lacks raises ``MissingSpecialTokens``
    naming every one missing, before anything is tokenized."""
    if special is not None:
        lacking = special.missing(dict.fromkeys(t for t, i in pieces_of(prompt) if i is not None))
        if lacking:
            raise MissingSpecialTokens(
                f"{special.source} lacks the control token{'s' if len(lacking) > 1 else ''} "
                f"{', '.join(lacking)} that this prompt needs; use a model of a family whose "
                "vocabulary has them ('qwenpair model list')"
            )
    ids: list[int] = []
    for value, token_id in pieces_of(prompt):
        if token_id is None:
            ids.extend(encode_text(value))
        else:
            ids.append(token_id if special is None else special.ids[value])
    return ids


def file_level(prompt: str, fim_markers: Sequence[str] = (FIM_PREFIX, FIM_SUFFIX)) -> Prompt:
    """A repository-level prompt cut to its file-level part: from the first FIM marker on
    (``fim_markers``: the family's prefix and suffix strings), or, for a left-to-right repo
    prompt, the current file's text after its last ``<|file_sep|>`` header line. For a model
    that lacks the repo tokens (``model.tokens.REPO_TEXTS``); other prompts come back as they are."""
    pieces = pieces_of(prompt)
    if not any(i is not None and t in REPO_TEXTS for t, i in pieces):
        return prompt if isinstance(prompt, Prompt) else as_text(prompt)
    at = next((k for k, (t, i) in enumerate(pieces) if i is not None and t in fim_markers), None)
    if at is not None:
        return Prompt(pieces[at:])
    last = max(k for k, (t, i) in enumerate(pieces) if i is not None and t in REPO_TEXTS)
    rest = "".join(t for t, _ in pieces[last + 1 :])
    return as_text(rest.split("\n", 1)[1] if "\n" in rest else "")


_LINE_BREAKS = re.compile("[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


def header_line(name: str) -> str:
    """A path or repository name as one header line: line breaks in it are written escaped
    (``\\n``), so a crafted file name cannot end its ``<|file_sep|>`` line and pose as file
    text. Ordinary names are unchanged."""
    return _LINE_BREAKS.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), str(name))


def _m(token: str) -> Piece:
    """A marker piece; its ID is the Qwen2.5 default, replaced by the model's when encoded."""
    return (token, TOKEN_IDS[token])


def _t(value: str) -> Piece:
    return (str(value), None)


def fim(
    prefix: str, suffix: str, *, mode: FimMode | None = None, middle_start: str = "", fmt: PromptFormat = DEFAULT_FORMAT
) -> Prompt:
    """File-level FIM prompt in ``fmt``'s marker strings.

    ``mode`` defaults to the family's (PSM is what Qwen2.5-Coder documents for inference). SPM
    (suffix first) exists for the training transform; Qwen did not publish its PSM/SPM split,
    so training makes it a rate.
    """
    mode = fmt.fim_mode if mode is None else mode
    pre, suf, mid = _m(fmt.fim_prefix), _m(fmt.fim_suffix), _m(fmt.fim_middle)
    if mode == "psm":
        return Prompt([pre, _t(prefix), suf, _t(suffix), mid, _t(middle_start)])
    if mode == "spm":
        return Prompt([suf, _t(suffix), pre, _t(prefix), mid, _t(middle_start)])
    raise ValueError(f"unknown FIM mode {mode!r}: use 'psm' or 'spm'")


def repo_header(repo_name: str, files: Iterable[RepoFile], *, fmt: PromptFormat = DEFAULT_FORMAT) -> Prompt:
    """The repository part of a repo-level prompt: name, then each context file in order."""
    _need_repo_level(fmt)
    pieces = [_m(fmt.repo_name), _t(header_line(repo_name) + "\n")]
    for f in files:
        pieces += [_m(fmt.file_sep), _t(f"{header_line(f.path)}\n{f.content}\n")]
    return Prompt(pieces)


def _need_repo_level(fmt: PromptFormat) -> None:
    if not fmt.repo_level:
        raise ValueError(f"the {fmt.family} family has no repository-level format; build a file-level fim()")


def repo_fim(
    repo_name: str,
    files: Sequence[RepoFile],
    current_path: str,
    prefix: str,
    suffix: str,
    *,
    middle_start: str = "",
    mode: FimMode | None = None,
    fmt: PromptFormat = DEFAULT_FORMAT,
) -> Prompt:
    """Repository-level FIM prompt with the current file last (report Figure 4)."""
    return (
        repo_header(repo_name, files, fmt=fmt)
        + Prompt([_m(fmt.file_sep), _t(header_line(current_path) + "\n")])
        + fim(prefix, suffix, mode=mode, middle_start=middle_start, fmt=fmt)
    )


def repo_completion(
    repo_name: str, files: Sequence[RepoFile], current_path: str, prefix: str, *, fmt: PromptFormat = DEFAULT_FORMAT
) -> Prompt:
    """Repository-level left-to-right prompt (no FIM): the current file's text continues."""
    return repo_header(repo_name, files, fmt=fmt) + Prompt([_m(fmt.file_sep), _t(f"{header_line(current_path)}\n{prefix}")])


def split_current_line(prefix: str) -> tuple[str, str]:
    """Split a prefix into (text up to the start of the current line, current line so far).

    ``fim(head, suffix, middle_start=line)`` is the cache-friendly layout of
    ``fim(prefix, suffix)``: the head and suffix stay fixed while the user types on a line.
    """
    cut = prefix.rfind("\n") + 1
    return prefix[:cut], prefix[cut:]


def chatml(
    messages: Sequence[ChatMessage],
    *,
    system: str | None = DEFAULT_SYSTEM_PROMPT,
    add_generation_prompt: bool = True,
    fmt: PromptFormat = DEFAULT_FORMAT,
) -> Prompt:
    """ChatML for an instruct model; every message's content is text.

    A system message is prepended with ``system`` (Qwen's default) unless the conversation
    starts with one; ``system=None`` leaves it out.
    """
    turns = list(messages)
    if system is not None and (not turns or turns[0].role != "system"):
        turns.insert(0, ChatMessage("system", system))
    start, end = _m(fmt.im_start), _m(fmt.im_end)
    pieces: list[Piece] = []
    for m in turns:
        pieces += [start, _t(f"{m.role}\n{m.content}"), end, _t("\n")]
    if add_generation_prompt:
        pieces += [start, _t("assistant\n")]
    return Prompt(pieces)
