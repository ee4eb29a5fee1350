"""The engine's request and result types: plain data, no LSP and no model types."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class CompletionRequest:
    path: Path  # absolute path of the document (it may exist only in the editor)
    text: str  # the whole document as the editor has it
    line: int  # 0-based
    col: int  # 0-based, Unicode characters
    version: int | None = None  # the editor's document version, echoed back
    candidates: int | None = None  # None = the configured number
    explain: bool = False  # collect why each snippet was chosen and what each filter did


@dataclass(frozen=True)
class CompletionItem:
    text: str  # what to insert at the cursor
    line: int  # 0-based start of the range it replaces (the cursor)
    col: int
    end_line: int  # end of the replaced range (== start unless brackets were reconciled)
    end_col: int
    mean_logprob: float = 0.0


@dataclass(frozen=True)
class ExplainEntry:
    kind: str  # "snippet", "document", "local", "filter", "budget"
    source: str  # path:lines, filter name...
    reason: str  # why it is there / what it did
    tokens: int = 0


@dataclass
class CompletionResult:
    items: list[CompletionItem] = field(default_factory=list)
    cache: str = "miss"  # "miss", "hit" or "typed" (typed-ahead)
    prompt: str = ""  # the exact prompt (empty on a cache hit)
    prompt_tokens: int = 0
    evaluated_tokens: int = 0  # prompt tokens the model really computed
    timings: dict[str, float] = field(default_factory=dict)
    stop_reason: str = ""
    warnings: list[str] = field(default_factory=list)
    explain: list[ExplainEntry] = field(default_factory=list)
    version: int | None = None

    @property
    def text(self) -> str:
        return self.items[0].text if self.items else ""
