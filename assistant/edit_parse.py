"""Turn an instruct model's answer into the new text of the region it was asked to rewrite.

Models answer an edit request in one of three forms, and this parser accepts each:

- a fenced code block (```python ... ```): the block replaces the region;
- search/replace blocks (``<<<<<<< SEARCH`` / ``=======`` / ``>>>>>>> REPLACE``, as aider
  asks for): each SEARCH must match the region exactly once (trailing spaces aside);
- bare code with no fence: a whole-region rewrite.

It refuses, with ``UnusableAnswer`` saying why, an answer that is prose with no code, two
different code blocks for the file's language, a diff instead of code, a block or
SEARCH/REPLACE cut off by the token limit, a time cap or a cancel, and a SEARCH that does
not match. It never runs the code.
Indentation and the region's final newline are fixed up by ``assistant.edit``, not here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Literal

from assistant.chat_errors import UnusableAnswer
from assistant.postprocess.languages import language_from_path, spec_for
from model.tokens import cut_at_leaked_token
from repo_index import syntax_errors

EditForm = Literal["fenced", "search_replace", "whole"]

#: Stop reasons that mean the answer was cut short, not finished by the model.
TRUNCATED = ("length", "time", "cancelled")

_FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*([\w+#.-]*)[^`]*$")
_SEARCH = re.compile(r"^\s*<{5,9} ?SEARCH\s*$")
_DIVIDER = re.compile(r"^\s*={5,9}\s*$")
_REPLACE = re.compile(r"^\s*>{5,9} ?REPLACE\s*$")
#: A first line that reads as an English sentence ("Here is the updated function:").
_SENTENCE = re.compile(r"^[A-Z][a-z']*(?:[ ,][\w'`\"().,-]+){3,}[.:!?]?$")


@dataclass(frozen=True)
class ParsedEdit:
    new_text: str  # the region's replacement, before indentation fix-ups
    form: EditForm
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Block:
    lang: str
    lines: list[str]
    closed: bool

    @property
    def text(self) -> str:
        return "".join(self.lines)


def parse_edit(raw: str, old_text: str, *, path: str | PurePath, stop_reason: str = "eos") -> ParsedEdit:
    """The region's new text from the model's answer ``raw`` (see the module docstring)."""
    text = cut_at_leaked_token(raw)
    truncated = stop_reason in TRUNCATED
    if any(_SEARCH.match(line) for line in text.splitlines()):
        return _search_replace(text, old_text, truncated)
    blocks = _fenced_blocks(text)
    if blocks:
        return _from_blocks(blocks, raw, path, truncated)
    return _whole(text, raw, old_text, path, truncated)


def _fenced_blocks(text: str) -> list[_Block]:
    blocks: list[_Block] = []
    current: _Block | None = None
    fence = ""
    for line in text.splitlines(keepends=True):
        match = _FENCE.match(line)
        if current is None:
            if match:
                fence = match.group(1)
                current = _Block(match.group(2).lower(), [], False)
            continue
        if match and line.strip() == fence[0] * len(line.strip()) and len(line.strip()) >= len(fence):
            current.closed = True
            blocks.append(current)
            current = None
            continue
        current.lines.append(line)
    if current is not None:
        blocks.append(current)
    return blocks


def _from_blocks(blocks: list[_Block], raw: str, path: str | PurePath, truncated: bool) -> ParsedEdit:
    warnings: list[str] = []
    last = blocks[-1]
    if not last.closed:
        if truncated:
            raise UnusableAnswer(
                "the answer stopped in the middle of a code block (token limit, time cap or "
                "cancel), so the rewrite is incomplete; select fewer lines or ask again",
                raw,
            )
        warnings.append("the model did not close its code block; the edit takes the block as it ended")
    language = language_from_path(str(path))
    ours = [b for b in blocks if _same_language(b.lang, language)]
    if ours and len(ours) < len(blocks):
        others = sorted({b.lang for b in blocks if b not in ours})
        warnings.append(f"ignored {len(blocks) - len(ours)} code block(s) in another language ({', '.join(others)})")
    candidates = ours or blocks
    if all(b.lang in ("diff", "patch") for b in candidates) and language not in ("diff", "patch"):
        raise UnusableAnswer(
            "the model answered with a diff instead of the rewritten code; ask again for the new "
            "version of the selected lines",
            raw,
        )
    distinct = list(dict.fromkeys(b.text.rstrip() for b in candidates))
    if len(distinct) > 1:
        raise UnusableAnswer(
            f"the model proposed {len(distinct)} different code blocks and it is not clear which "
            "one is the rewrite; ask again, naming what to change, or select less",
            raw,
        )
    return ParsedEdit(candidates[0].text, "fenced", warnings)


def _same_language(tag: str, language: str) -> bool:
    return tag == "" or tag == language or spec_for(tag).name == language


def _search_replace(text: str, old_text: str, truncated: bool) -> ParsedEdit:
    pairs: list[tuple[str, str]] = []
    state = "outside"
    search: list[str] = []
    replace: list[str] = []
    for line in text.splitlines(keepends=True):
        if state == "outside" and _SEARCH.match(line):
            state, search, replace = "search", [], []
        elif state == "search" and _DIVIDER.match(line):
            state = "replace"
        elif state == "replace" and _REPLACE.match(line):
            pairs.append(("".join(search), "".join(replace)))
            state = "outside"
        elif state == "search":
            search.append(line)
        elif state == "replace":
            replace.append(line)
    if state != "outside":
        cause = "it was cut short" if truncated else "it has no closing marker"
        raise UnusableAnswer(
            f"the answer stopped in the middle of a SEARCH/REPLACE block ({cause}); ask again", text
        )
    result = old_text
    for number, (find, put) in enumerate(pairs, 1):
        result = _replace_once(result, find, put, number, text)
    return ParsedEdit(result, "search_replace")


def _replace_once(region: str, find: str, put: str, number: int, raw: str) -> str:
    if not find.strip():
        raise UnusableAnswer(f"SEARCH block {number} is empty, so it says nothing about where to edit", raw)
    hits = region.count(find)
    if hits == 1:
        return region.replace(find, put, 1)
    if hits == 0:  # models often drop trailing spaces and the final newline: match line-wise
        have = region.splitlines(keepends=True)
        want = [line.rstrip() for line in find.rstrip("\n").split("\n")]
        starts = [
            i for i in range(len(have) - len(want) + 1)
            if [line.rstrip() for line in have[i : i + len(want)]] == want
        ]
        if len(starts) == 1:
            i, end = starts[0], starts[0] + len(want)
            if put and have[end - 1].endswith("\n") and not put.endswith("\n"):
                put += "\n"
            return "".join(have[:i]) + put + "".join(have[end:])
        hits = len(starts)
    if hits == 0:
        raise UnusableAnswer(
            f"SEARCH block {number} does not match the selected code, so the edit cannot be placed; ask again",
            raw,
        )
    raise UnusableAnswer(
        f"SEARCH block {number} matches {hits} places in the selection; select less or ask for a "
        "more specific change",
        raw,
    )


def _whole(text: str, raw: str, old_text: str, path: str | PurePath, truncated: bool) -> ParsedEdit:
    body = text.strip("\n")
    if not body.strip():
        raise UnusableAnswer("the model returned no code; ask again or rephrase the instruction", raw)
    first = next(line for line in body.splitlines() if line.strip()).strip()
    if _SENTENCE.match(first):
        errors_new = syntax_errors(str(path), body)
        if errors_new is None or errors_new > (syntax_errors(str(path), old_text) or 0):
            raise UnusableAnswer(
                f"the model answered in prose with no code block ({_quote(first)}); ask again, "
                "for example with a more specific instruction",
                raw,
            )
    warnings = ["the model answered with bare code (no code block); taken as the whole rewrite"]
    if truncated:
        raise UnusableAnswer(
            "the answer was cut off (token limit, time cap or cancel) before the rewrite ended; "
            "select fewer lines or ask again",
            raw,
        )
    return ParsedEdit(body + "\n", "whole", warnings)


def _quote(line: str, limit: int = 80) -> str:
    return repr(line if len(line) <= limit else line[: limit - 1] + "…")
