"""The context builder: what goes into a completion prompt, in what order, under a budget.

Inputs: the document and cursor, cross-file snippets from a ``Retriever`` (repo_index:
definitions of identifiers near the cursor and of the file's imports, plus windows similar
to the code before the cursor), and the other open or recently edited documents. Output:
the parts of a Qwen repo-level FIM prompt (``model.prompt.repo_fim``) with the real
repository name and relative paths, and an explanation of every piece.

Which snippets fit is ``context_pack``'s: short forms of every definition in use first,
then fuller texts by tier (issue 16).

KV-cache discipline (docs/design.md §4): the prompt is laid out stable-first — other documents,
then definitions, then similar windows, then the current file — and the current line up to
the cursor goes after ``<|fim_middle|>``. The snippet set is frozen while the cursor stays on
one line (and refreshed after a pause), so typing re-evaluates a handful of tokens.

The prompt is a ``model.prompt.Prompt``: file text, snippets and paths are text pieces, and
only the format's markers become control tokens (docs/security.md, "control tokens"). Token
counts here are of text pieces, which backends tokenize as text.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from assistant.document import Cursor, lines_of
from assistant.request import ExplainEntry
from model.fit import fit_prefix_suffix, keep_tail
from model.prompt import Prompt, RepoFile, fim, header_line, repo_fim, split_current_line
from model.registry import DEFAULT_FORMAT, PromptFormat
from assistant.context_pack import pack
from repo_index import Snippet


class Retriever(Protocol):
    """Cross-file snippets for a cursor, best first. A retriever may also offer
    ``explained(path, text, line, col)``: the same plus the candidates it left out (kind
    "dropped", empty text), which the explanation lists (``WorkspaceRetriever`` does)."""

    def retrieve(self, path: Path, text: str, line: int, col: int) -> Sequence[Snippet]: ...


@dataclass
class PromptParts:
    prompt: Prompt  # slicing keeps its markers: prompt[:stable_len] is the pre-fill prefix
    head: str  # current file before the cursor's line (after budget trimming)
    middle_start: str  # the current line up to the cursor
    suffix: str
    files: list[RepoFile] = field(default_factory=list)
    explain: list[ExplainEntry] = field(default_factory=list)
    stable_len: int = 0  # characters of the prompt that do not change while typing on this line
    repo_name: str | None = None  # None: file-level layout
    rel_path: str = ""
    cursor_line: int = 0


@dataclass(frozen=True)
class Layout:
    """Which part of a full-budget prompt a smaller one keeps (``ContextBuilder.compose``):
    its first ``files`` context files and the first ``head`` characters (whole lines) of its
    current-file head, then the text nearest the cursor in ``near`` tokens."""

    files: int
    head: int
    near: int
    grown: bool = True  # the kept part was cached (False: nothing grown yet, a cold prompt)


@dataclass
class _Frozen:
    line: int
    at: float
    snippets: list[Snippet]


class ContextBuilder:
    def __init__(
        self,
        count_tokens: Callable[[str], int],
        *,
        retriever: Retriever | None = None,
        prefix_lines: int = 120,
        suffix_lines: int = 40,
        max_snippets: int = 8,
        refresh_s: float = 1.0,
        naive_layout: bool = False,
        fmt: PromptFormat = DEFAULT_FORMAT,
    ) -> None:
        self._count_raw = count_tokens
        self._counts: dict[str, int] = {}
        self.retriever = retriever
        self.prefix_lines = prefix_lines
        self.suffix_lines = suffix_lines
        self.max_snippets = max_snippets
        self.refresh_s = refresh_s
        self.naive_layout = naive_layout
        self.fmt = fmt  # the loaded model's family layout (PSM/SPM, repo-level or not)
        self._frozen: dict[Path, _Frozen] = {}

    def count(self, text: str) -> int:
        """Token count, memoised: snippet texts recur on every keystroke."""
        n = self._counts.get(text)
        if n is None:
            n = self._count_raw(text)
            if len(self._counts) > 4096:
                self._counts.clear()
            self._counts[text] = n
        return n

    def snippets(self, path: Path, text: str, cursor: Cursor, *, now: float | None = None) -> list[Snippet]:
        """The cross-file snippets for this cursor; the same set while on the same line."""
        if self.retriever is None:
            return []
        now = time.monotonic() if now is None else now
        frozen = self._frozen.get(path)
        if not self.naive_layout and frozen is not None and frozen.line == cursor.line and now - frozen.at < self.refresh_s:
            frozen.at = now  # still typing: keep the set (and the KV prefix) as it is
            return frozen.snippets
        explained = getattr(self.retriever, "explained", None)  # also the candidates left out
        if explained is not None:
            found = list(explained(path, text, cursor.line, cursor.col))
        else:
            found = list(self.retriever.retrieve(path, text, cursor.line, cursor.col))
        # Best first as retrieved: definitions (by tier), then similar code. Similar code
        # keeps two places even when definitions fill ``max_snippets``; the budget decides.
        definitions = [s for s in found if s.kind == "definition"][: self.max_snippets]
        rest = [s for s in found if s.kind not in ("definition", "dropped")]
        rest = rest[: max(2, self.max_snippets - len(definitions))]
        found = definitions + rest + [s for s in found if s.kind == "dropped"]
        self._frozen[path] = _Frozen(cursor.line, now, found)
        return found

    def forget(self, path: Path) -> None:
        self._frozen.pop(path, None)

    def build(
        self,
        *,
        repo_name: str | None,
        rel_path: str,
        text: str,
        cursor: Cursor,
        snippets: Sequence[Snippet],
        budget: int,
        repo_budget: int,
    ) -> PromptParts:
        """Pack the prompt into ``budget`` tokens, at most ``repo_budget`` of them cross-file."""
        if not self.fmt.repo_level:  # no repo layout: file-level, and no snippet is listed as sent
            repo_name = None
        lines = lines_of(text)
        first = max(0, cursor.line - self.prefix_lines)
        last = min(len(lines), cursor.line + 1 + self.suffix_lines)
        prefix = "\n".join(lines[first : cursor.line] + [lines[cursor.line][: cursor.col]])
        suffix = "\n".join([lines[cursor.line][cursor.col :]] + lines[cursor.line + 1 : last])
        head, current = split_current_line(prefix)
        if self.naive_layout:
            head, current = prefix, ""
        if self.count(current) > budget // 2:  # a minified line: keep its end next to the cursor
            head, current = "", keep_tail(current, budget // 2, self.count)
        explain: list[ExplainEntry] = []

        files: list[RepoFile] = []
        used = 0
        if repo_name is not None:
            packed = pack(snippets, rel_path, repo_budget, self.count)
            used = packed.used
            explain += packed.explain
            grouped: dict[str, list[Snippet]] = {}
            order: list[str] = []
            for snip in packed.snippets:
                if snip.path not in grouped:
                    grouped[snip.path] = []
                    order.append(snip.path)
                grouped[snip.path].append(snip)
            for p in order:
                parts = sorted(grouped[p], key=lambda s: s.start_line)
                files.append(RepoFile(p, "\n".join(s.text.rstrip("\n") for s in parts) + "\n"))
            header_cost = self.count(repo_name) + self.count(rel_path) + 6
        else:
            header_cost = 4
        local_budget = max(0, budget - used - header_cost - self.count(current))
        head, suffix = fit_prefix_suffix(head, suffix, local_budget, self.count)
        explain.append(
            ExplainEntry(
                "local",
                f"{rel_path}:{cursor.line - head.count(chr(10)) + 1}-{cursor.line + suffix.count(chr(10)) + 1}",
                "the current file around the cursor (far prefix trimmed first)",
                self.count(head) + self.count(suffix),
            )
        )
        if repo_name is not None:
            prompt = repo_fim(repo_name, files, rel_path, head, suffix, middle_start=current, fmt=self.fmt)
        else:
            prompt = fim(head, suffix, middle_start=current, fmt=self.fmt)
        return PromptParts(prompt, head, current, suffix, files, explain, len(prompt) - len(current), repo_name, rel_path,
                           cursor.line)

    # -- progressive context (assistant/growth.py) ----------------------------------------
    def can_compose(self) -> bool:
        """Whether ``compose`` applies: the prefix-first layout, where the grown context comes
        before the text near the cursor (PSM; the naive layout re-ranks on every keystroke)."""
        return self.fmt.fim_mode == "psm" and not self.naive_layout

    def frontier(self, full: PromptParts, cached: int) -> tuple[int, int]:
        """How much of ``full`` its first ``cached`` tokens cover, in whole units: (context files,
        characters of whole lines of the head, the latter only once every file is covered).
        Counted from the pieces' and lines' token counts, memoised (they recur from keystroke
        to keystroke): no tokenizing of the whole prompt."""
        used = 0
        if full.repo_name is not None:
            used = 1 + self.count(header_line(full.repo_name) + "\n")
            for k, f in enumerate(full.files):
                cost = 1 + self.count(f"{header_line(f.path)}\n{f.content}\n")
                if used + cost > cached:
                    return k, 0
                used += cost
            used += 1 + self.count(header_line(full.rel_path) + "\n")
        left = cached - used - 2  # <|fim_prefix|>, and one spare: BPE joins at a line's start
        at = 0
        for line in full.head.split("\n")[:-1]:  # whole lines; counted alone, a join counts no less
            cost = self.count(line + "\n")
            if cost > left:
                break
            left -= cost
            at += len(line) + 1
        return len(full.files), at

    def layout(self, full: PromptParts, cached: int, budget: int, share: float) -> Layout:
        """The layout for a prompt that evaluates about ``budget`` new tokens on top of the
        ``cached`` ones: what is cached of ``full`` (the grown frontier), then more context
        files while they fit ``share`` of the budget (a cold prompt keeps its cross-file
        share), then the text nearest the cursor in what is left."""
        files, head = self.frontier(full, cached)
        grown = files or head
        extra = 0
        while files < len(full.files) and head == 0:
            cost = 1 + self.count(f"{header_line(full.files[files].path)}\n{full.files[files].content}\n")
            if extra + cost > budget * share:
                break
            extra += cost
            files += 1
        return Layout(files, head if files == len(full.files) else 0, max(16, budget - extra), grown=bool(grown))

    def compose(self, full: PromptParts, layout: Layout) -> PromptParts:
        """A prompt that starts as ``full`` does, for as far as ``layout`` keeps of it (the part
        growth has cached), then goes on with the current file nearest the cursor in
        ``layout.near`` tokens: the lines between are left out. Its start is the full prompt's
        own text, so what growth cached is reused and the next growth step extends it."""
        files = full.files[: layout.files]
        kept = full.head[: layout.head] if layout.files == len(full.files) else ""
        current = full.middle_start
        # new markup: the FIM markers after the head, the current file's header unless the kept
        # head has it, the repository's name when nothing is kept (a cold prompt)
        header = 2 + (0 if kept else 2 + (self.count(header_line(full.rel_path) + "\n") if full.repo_name is not None else 0))
        if full.repo_name is not None and not files:
            header += 1 + self.count(header_line(full.repo_name) + "\n")
        near = max(0, layout.near - self.count(current) - header)
        rest, suffix = fit_prefix_suffix(full.head[len(kept) :], full.suffix, near, self.count)
        head = kept + rest
        if full.repo_name is not None:
            prompt = repo_fim(full.repo_name, files, full.rel_path, head, suffix, middle_start=current, fmt=self.fmt)
        else:
            prompt = fim(head, suffix, middle_start=current, fmt=self.fmt)
        paths = {f.path for f in files}
        explain = [e for e in full.explain if e.kind not in ("snippet", "document", "local") or e.source.split(":")[0] in paths]
        first = full.cursor_line - full.head.count("\n")
        gap = full.head.count("\n") - head.count("\n")
        where = f"{full.rel_path}:{first + 1}-{first + kept.count(chr(10))} grown, " if kept and gap else f"{full.rel_path}:"
        explain.append(ExplainEntry(
            "local", f"{where}{full.cursor_line - rest.count(chr(10)) + 1}-{full.cursor_line + suffix.count(chr(10)) + 1}",
            "the current file around the cursor" + (f" ({gap} lines between left out until the prompt grows)" if gap else ""),
            self.count(head) + self.count(suffix)))
        return PromptParts(prompt, head, current, suffix, list(files), explain, len(prompt) - len(current),
                           full.repo_name, full.rel_path, full.cursor_line)
