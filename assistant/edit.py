"""An edit: an instruction and a line range in, a reviewable proposal out, written only on request.

``edit_message`` asks the instruct model to rewrite exactly the selected lines;
``make_proposal`` parses its answer (``assistant.edit_parse``), drops lines it repeated from
outside the region, restores the region's indentation, line endings and final newline, and
returns an ``EditProposal``: the old and new text of the range, a unified diff of the file,
and warnings (tree-sitter parse errors the edit adds, fix-ups made). Nothing is written here
but by ``write_edit``, which replaces only the proposed range, atomically, and only if the
file is still the text the edit was made for (else ``StaleEdit``). Model output is text to
show and to write; it is never executed.
"""

from __future__ import annotations

import difflib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from assistant.chat_errors import Refused, StaleEdit
from assistant.chat_prompt import Region, fenced, split_lines
from assistant.edit_parse import parse_edit
from assistant.large_document import line_start
from repo_index import syntax_errors


@dataclass
class EditProposal:
    """A proposed rewrite of lines [start_line, end_line) (0-based) of ``path``."""

    path: Path
    start_line: int
    end_line: int
    old_text: str  # the lines as they were, line ends included
    new_text: str  # what replaces them
    diff: str  # unified diff of the whole file ("" when the model changed nothing)
    warnings: list[str] = field(default_factory=list)
    version: int | None = None  # the document version the edit was made for (LSP)
    base_text: str = ""  # the whole document the edit was made for
    raw: str = ""  # the model's answer as it came
    form: str = ""  # how the answer was read: fenced, search_replace or whole
    # An edit in a document over the size cap is made on a window of it (large_document.py):
    # base_text is then the window, starting at the document's line ``first_line``, and
    # ``document`` the whole text (the same object, not a copy).
    first_line: int = 0
    document: str = ""

    def replace_range(self) -> tuple[int, int, int, int]:
        """(start line, start col, end line, end col), 0-based, cols in code points: the
        range of the document that ``new_text`` replaces (an LSP TextEdit's range)."""
        lines, first = split_lines(self.base_text), self.first_line
        if self.end_line - first < len(lines) or not lines:
            return self.start_line, 0, self.end_line, 0
        last = lines[-1]
        if last.endswith("\n"):
            return self.start_line, 0, first + len(lines), 0
        return self.start_line, 0, first + len(lines) - 1, len(last)

    def new_document(self, current: str | None = None) -> str:
        """The document with the edit applied; ``StaleEdit`` if ``current`` is not the text
        the edit was made for."""
        if current is not None and current != (self.document or self.base_text):
            raise StaleEdit(
                f"{self.path.name} changed after the edit was proposed; ask for the edit again"
            )
        lines, first = split_lines(self.base_text), self.first_line
        window = "".join(lines[: self.start_line - first]) + self.new_text + "".join(lines[self.end_line - first :])
        if not self.document:
            return window
        at = line_start(self.document, first)
        return self.document[:at] + window + self.document[at + len(self.base_text) :]


def check_range(lines: list[str], start: int, end: int, path: Path) -> None:
    """Refuse an empty or out-of-range selection with a message saying what to select."""
    if not lines:
        raise Refused(f"{path.name} is empty: there is nothing to edit; write a first line or use chat")
    if start == end:
        raise Refused("the selection is empty: select the lines to change, or give no range to edit the whole file")
    if not 0 <= start < end <= len(lines):
        raise Refused(
            f"lines {start + 1}-{end} are outside {path.name}, which has {len(lines)} lines; "
            "give a range within the file"
        )


def edit_message(context: str, region: Region, instruction: str) -> str:
    """The user message of an edit request (the context part comes from the chat builder)."""
    start, end = region.selection or (0, len(region.lines))
    lang = region.language or "text"
    head = f"{context}\n\n" if context else ""
    return (
        f"{head}Rewrite lines {start + 1}-{end} of `{region.rel_path}` as the instruction says.\n\n"
        f"Instruction: {instruction.strip()}\n\n"
        f"Lines {start + 1}-{end} of `{region.rel_path}`:\n{fenced(region.selected_text(), region.language)}\n\n"
        f"Answer with the complete new version of these lines in a single ```{lang} code block, "
        "keeping their indentation. Do not repeat code from outside these lines."
    )


def make_proposal(
    raw: str,
    *,
    path: Path,
    rel_path: str,
    base_text: str,
    start_line: int,
    end_line: int,
    stop_reason: str,
    version: int | None = None,
) -> EditProposal:
    """Parse the model's answer into a proposal; ``UnusableAnswer`` when there is no edit in it."""
    lines = split_lines(base_text)
    old = "".join(lines[start_line:end_line])
    parsed = parse_edit(raw, old, path=rel_path, stop_reason=stop_reason)
    warnings = list(parsed.warnings)
    new = parsed.new_text
    if parsed.form != "search_replace":
        new = _drop_echo(new, split_lines(old), lines[:start_line], lines[end_line:], warnings)
        new = _reindent(new, old, warnings)
    new = _line_endings(new, old)
    if old.endswith("\n") and new and not new.endswith("\n"):
        new += "\r\n" if old.endswith("\r\n") else "\n"
    if not old.endswith("\n") and end_line == len(lines):
        new = new.rstrip("\r\n")  # the file had no final newline: do not add one
    proposal = EditProposal(path, start_line, end_line, old, new, "", warnings, version, base_text, raw, parsed.form)
    after = proposal.new_document()
    proposal.diff = "".join(
        difflib.unified_diff(split_lines(base_text), split_lines(after), f"a/{rel_path}", f"b/{rel_path}")
    )
    if proposal.diff and not proposal.diff.endswith("\n"):
        proposal.diff += "\n\\ No newline at end of file\n"
    if not proposal.diff:
        warnings.append("the model proposed no change to these lines")
    before_errors = syntax_errors(rel_path, base_text)
    after_errors = syntax_errors(rel_path, after)
    if before_errors is not None and after_errors is not None and after_errors > before_errors:
        warnings.append(
            f"the edit breaks parsing: tree-sitter finds {after_errors} syntax error(s) in "
            f"{rel_path} after it, {before_errors} before; review it before applying"
        )
    return proposal


def write_edit(proposal: EditProposal) -> None:
    """Write the edit to ``proposal.path``, atomically, replacing only its range; refuse with
    ``StaleEdit`` when the file is no longer the text the edit was made for."""
    path = proposal.path
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise StaleEdit(f"cannot read {path} to apply the edit: {exc.strerror}") from exc
    try:
        current = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(f"{path} is not valid UTF-8; qwenpair writes edits only to UTF-8 files") from None
    updated = proposal.new_document(current).encode("utf-8")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".qwenpair", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(updated)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, path.stat().st_mode & 0o7777)
        if path.read_bytes() != data:  # changed while we wrote: keep the user's version
            raise StaleEdit(f"{path} changed while the edit was being written; nothing was written")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _reindent(new: str, old: str, warnings: list[str]) -> str:
    """Give ``new`` the region's indentation when the model dropped it (a method body
    returned at column 0)."""
    want = _common_indent(old)
    have = _common_indent(new)
    if not want or have or not new.strip():
        return new
    warnings.append("re-indented the model's code to the selection's indentation")
    return "".join(want + line if line.strip() else line for line in new.splitlines(keepends=True))


def _drop_echo(new: str, old: list[str], before: list[str], after: list[str], warnings: list[str]) -> str:
    """Drop lines the model repeated from just outside the region (it was asked not to): a
    leading run equal to the lines before it, a trailing run equal to the lines after it.
    A run the region itself starts (or ends) with is the model keeping it, not an echo."""
    lines = split_lines(new)

    def same(a: list[str], b: list[str]) -> bool:
        return [x.rstrip() for x in a] == [x.rstrip() for x in b] and any(x.strip() for x in a)

    head = next((k for k in range(min(len(before), len(lines)), 0, -1)
                 if same(lines[:k], before[-k:]) and not same(lines[:k], old[:k])), 0)
    rest = lines[head:]
    tail = next((k for k in range(min(len(after), len(rest)), 0, -1)
                 if same(rest[-k:], after[:k]) and not same(rest[-k:], old[-k:])), 0)
    kept = rest[: len(rest) - tail]
    if not (head or tail) or not any(x.strip() for x in kept):
        return new
    warnings.append(f"dropped {head + tail} line(s) the model repeated from outside the selection")
    return "".join(kept)


def _common_indent(text: str) -> str:
    indents = [line[: len(line) - len(line.lstrip())] for line in text.splitlines() if line.strip()]
    if not indents:
        return ""
    return os.path.commonprefix(indents)


def _line_endings(new: str, old: str) -> str:
    if "\r\n" in old and "\r\n" not in new:
        return new.replace("\n", "\r\n")
    return new
