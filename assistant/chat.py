"""Chat and edit with the instruct model: repository-aware, streamed, cancellable.

``ChatEngine`` owns one loaded instruct model (configured separately from the completion
model; it may be the same file). ``ask`` answers a question about the workspace, the current
file, a selection and the editor's diagnostics, with the conversation so far trimmed to a
budget. ``edit`` asks for a rewrite of a line range and returns an ``EditProposal`` (a diff
to review); it never writes. Both stream text through ``on_text`` and stop between tokens
when ``cancel`` is set.

Privacy: a file under ignore or secret rules never enters a prompt, even when it is the one
the user selected: the request is refused with the reason (``Refused``). Repository snippets
pass the same rule. Knows nothing of LSP or the terminal; the server and the CLI drive it.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from assistant import large_document
from assistant.chat_errors import Interrupted, Refused
from assistant.chat_format import ChatFormat
from assistant.chat_prompt import (
    ChatConfig,
    ChatContext,
    ChatContextBuilder,
    ContextPiece,
    Region,
    relative_path,
    split_lines,
    trim_history,
)
from assistant.context import Retriever
from assistant.edit import EditProposal, check_range, edit_message, make_proposal
from assistant.engine import PathPolicy
from model.backends.base import Backend, GenerationRequest, GenerationResult
from model.prompt import ChatMessage
from model.tokens import cut_at_leaked_token
from repo_index import Snippet

OnText = Callable[[str], None]

#: Tokens reserved for the chat template's own text (system prompt, turn markers).
TEMPLATE_TOKENS = 64


@dataclass
class ChatAnswer:
    text: str
    stop_reason: str  # eos (finished), length, time, cancelled
    warnings: list[str] = field(default_factory=list)
    prompt_tokens: int = 0
    evaluated_tokens: int = 0  # prompt tokens not served from the KV cache
    generated_tokens: int = 0
    prompt_s: float = 0.0
    gen_s: float = 0.0
    context: list[ContextPiece] = field(default_factory=list)
    sent: str = ""  # the user turn as sent: keep it in the history, so a follow-up reuses the KV cache

    @property
    def complete(self) -> bool:
        return self.stop_reason in ("eos", "stop_text")


@dataclass
class ChatPrompt:
    """A rendered prompt and what went into it (``--show-prompt``, golden tests)."""

    text: str
    messages: list[ChatMessage]
    context: ChatContext
    max_tokens: int


class ChatEngine:
    def __init__(
        self,
        backend: Backend,
        *,
        workspace_root: Path | None = None,
        retriever: Retriever | None = None,
        path_policy: PathPolicy | None = None,
        config: ChatConfig | None = None,
    ) -> None:
        self.backend = backend
        self.config = config or ChatConfig()
        self.workspace_root = workspace_root.resolve() if workspace_root else None
        self.retriever = retriever
        self.path_policy = path_policy
        self.format = ChatFormat.for_backend(backend, use_template=self.config.use_gguf_template)
        self._builder = ChatContextBuilder(self._count, self.config)
        self._lock = threading.Lock()  # one generation at a time on this model

    # -- chat ---------------------------------------------------------------------------
    def ask_prompt(
        self,
        question: str,
        *,
        history: Sequence[ChatMessage] = (),
        path: Path | None = None,
        text: str | None = None,
        selection: tuple[int, int] | None = None,
        diagnostics: Sequence[str] = (),
    ) -> ChatPrompt:
        """The prompt ``ask`` would send (refusals included), without calling the model."""
        if not question.strip():
            raise Refused("the question is empty: type what you want to know")
        answer_tokens = self.config.max_answer_tokens
        budget = self._prompt_budget(answer_tokens)
        question = question.strip()
        fixed = self._count(question) + TEMPLATE_TOKENS
        note = None
        if text is not None and large_document.is_large(text):  # the selection and the lines around it
            first, text, note = large_document.chat_window(text, selection)
            selection = (selection[0] - first, selection[1] - first) if selection is not None else None
        region = self._region(path, text, selection) if path is not None else None
        if region is not None and selection is not None:
            self._check_chat_selection(region, budget - fixed)
        reserve = min(self.config.history_tokens, budget // 3) if history else 0
        context = self._builder.build(region, self._snippets(region, path), diagnostics, max(0, budget - fixed - reserve))
        if note is not None:
            context.warnings.insert(0, note)
        context_tokens = self._count(context.text)
        content = f"{context.text}\n\n{question}" if context.text else question
        kept, dropped = trim_history(history, min(self.config.history_tokens, budget - fixed - context_tokens), self._count)
        if context.text:  # the same context already sent in this conversation: refer to it
            again, dropped_again = trim_history(
                history, min(self.config.history_tokens + context_tokens, budget - fixed), self._count)
            if any(m.role == "user" and m.content.startswith(context.text + "\n\n") for m in again):
                kept, dropped, content = again, dropped_again, question
                context.pieces = [ContextPiece("context", "the same context, sent earlier in this conversation", 0)]
        if dropped:
            context.warnings.append(f"{dropped} earlier turn(s) left out to fit the history budget")
            context.pieces.append(ContextPiece("history", f"{dropped} oldest turn(s) dropped", 0))
        messages = [*kept, ChatMessage("user", content)]
        return ChatPrompt(self._render(messages, context), messages, context, answer_tokens)

    def ask(
        self,
        question: str,
        *,
        history: Sequence[ChatMessage] = (),
        path: Path | None = None,
        text: str | None = None,
        selection: tuple[int, int] | None = None,
        diagnostics: Sequence[str] = (),
        on_text: OnText | None = None,
        cancel: threading.Event | None = None,
    ) -> ChatAnswer:
        """Answer ``question``; the answer streams through ``on_text``. A cancel keeps the
        partial answer (``stop_reason == "cancelled"``)."""
        prompt = self.ask_prompt(
            question, history=history, path=path, text=text, selection=selection, diagnostics=diagnostics
        )
        result = self._generate(prompt, on_text, cancel)
        answer = ChatAnswer(
            cut_at_leaked_token(result.text), result.stop_reason, list(prompt.context.warnings),
            result.prompt_tokens, result.evaluated_tokens, len(result.token_ids), result.prompt_s, result.gen_s,
            prompt.context.pieces, prompt.messages[-1].content,
        )
        if result.stop_reason in ("length", "time"):
            answer.warnings.append(f"the answer was cut off ({_CUT[result.stop_reason]})")
        return answer

    # -- edit ---------------------------------------------------------------------------
    def edit_prompt(
        self,
        instruction: str,
        *,
        path: Path,
        text: str,
        start_line: int,
        end_line: int,
        diagnostics: Sequence[str] = (),
    ) -> ChatPrompt:
        """The prompt ``edit`` would send (refusals included), without calling the model."""
        if not instruction.strip():
            raise Refused("the instruction is empty: say what to change, e.g. -m 'add type hints'")
        note = None
        if large_document.is_large(text):  # the prompt of ``edit`` on the window (see there)
            first, text, note = large_document.chat_window(text, (start_line, end_line))
            start_line, end_line = start_line - first, end_line - first
        region = self._region(path, text, (start_line, end_line))
        check_range(region.lines, start_line, end_line, path)
        selected = self._count(region.selected_text())
        limit = min(self.config.max_selection_tokens, max(0, (self.backend.n_ctx - 2 * TEMPLATE_TOKENS) // 3))
        if selected > limit:
            raise Refused(
                f"the selection is {selected:,} tokens, more than the {limit:,} that one edit can rewrite "
                f"with this model's {self.backend.n_ctx:,}-token context; select less (one function "
                "or class at a time)"
            )
        answer_tokens = min(2 * selected + 256, max(256, self.backend.n_ctx // 2))
        budget = self._prompt_budget(answer_tokens)
        core = edit_message("", region, instruction)
        used = self._count(core) + TEMPLATE_TOKENS
        snippets = self._snippets(region, path)
        context = self._builder.build(region, snippets, diagnostics, max(0, budget - used), include_selection=False)
        if note is not None:
            context.warnings.insert(0, note)
        messages = [ChatMessage("user", edit_message(context.text, region, instruction))]
        return ChatPrompt(self._render(messages, context), messages, context, answer_tokens)

    def edit(
        self,
        instruction: str,
        *,
        path: Path,
        text: str,
        start_line: int,
        end_line: int,
        version: int | None = None,
        diagnostics: Sequence[str] = (),
        on_text: OnText | None = None,
        cancel: threading.Event | None = None,
    ) -> EditProposal:
        """A proposed rewrite of lines [start_line, end_line) (0-based) of ``text``.

        Raises ``Refused`` (bad input, policy), ``UnusableAnswer`` (no edit in the answer),
        ``Interrupted`` (cancelled)."""
        if large_document.is_large(text):  # made on the window, moved back to the document's lines
            first, window, note = large_document.chat_window(text, (start_line, end_line))
            proposal = self.edit(instruction, path=path, text=window, start_line=start_line - first,
                                 end_line=end_line - first, version=version, diagnostics=diagnostics,
                                 on_text=on_text, cancel=cancel)
            return dataclasses.replace(
                proposal, start_line=proposal.start_line + first, end_line=proposal.end_line + first,
                first_line=first, document=text, diff=large_document.shift_diff(proposal.diff, first),
                warnings=[note, *proposal.warnings])
        prompt = self.edit_prompt(
            instruction, path=path, text=text, start_line=start_line, end_line=end_line, diagnostics=diagnostics
        )
        result = self._generate(prompt, on_text, cancel)
        if result.stop_reason == "cancelled":
            raise Interrupted("the edit was cancelled; nothing was changed")
        proposal = make_proposal(
            result.text, path=path, rel_path=self._rel(path), base_text=text, start_line=start_line,
            end_line=end_line, stop_reason=result.stop_reason, version=version,
        )
        proposal.warnings[:0] = prompt.context.warnings
        return proposal

    # -- helpers ------------------------------------------------------------------------
    def _count(self, text: str) -> int:
        return len(self.backend.tokenize(text)) if text else 0

    def _prompt_budget(self, answer_tokens: int) -> int:
        budget = min(self.config.context_tokens, self.backend.n_ctx - answer_tokens)
        if budget < 2 * TEMPLATE_TOKENS:
            raise Refused(
                f"the chat model's context window ({self.backend.n_ctx:,} tokens) leaves no room for a "
                f"prompt beside a {answer_tokens:,}-token answer; load it with a larger n_ctx (--n-ctx)"
            )
        return budget

    def _rel(self, path: Path) -> str:
        return relative_path(path, self.workspace_root)

    def _region(self, path: Path, text: str | None, selection: tuple[int, int] | None) -> Region:
        """The file part of a request, after the path policy said it may enter a prompt."""
        if self.path_policy is not None:  # the whole text is scanned for secrets too
            allowed, reason = self.path_policy(path, text)
            if not allowed:
                raise Refused(
                    f"{self._rel(path)} is kept out of prompts ({reason}), so it was not sent to the "
                    "model; ask without it, or change the ignore rules if it should be allowed"
                )
        if text is None:
            raise Refused(f"no text for {self._rel(path)}: open or save the file first")
        lines = split_lines(text)
        return Region(self._rel(path), lines, selection)

    def _check_chat_selection(self, region: Region, room: int) -> None:
        start, end = region.selection or (0, 0)
        if start == end:
            raise Refused("the selection is empty: select some lines, or ask without a selection")
        if not 0 <= start < end <= len(region.lines):
            raise Refused(f"lines {start + 1}-{end} are outside {region.rel_path}, which has {len(region.lines)} lines")
        selected = self._count(region.selected_text())
        limit = min(self.config.max_selection_tokens, room)
        if selected > limit:
            raise Refused(
                f"the selection is {selected:,} tokens, over the {limit:,}-token limit for one question "
                f"with this model's {self.backend.n_ctx:,}-token context; select less (one function or "
                "class at a time)"
            )

    def _snippets(self, region: Region | None, path: Path | None) -> list[Snippet]:
        if self.retriever is None or region is None or path is None:
            return []
        start, end = region.selection or (0, len(region.lines))
        line = max(0, end - 1)
        col = len(region.lines[line].rstrip("\r\n")) if region.lines else 0
        found = self.retriever.retrieve(path, "".join(region.lines), line, col)
        return _outermost([s for s in found if s.path != region.rel_path and self._snippet_allowed(s)])

    def _snippet_allowed(self, snippet: Snippet) -> bool:
        if self.path_policy is None or self.workspace_root is None:
            return True
        return self.path_policy(self.workspace_root / snippet.path, None)[0]

    def _render(self, messages: list[ChatMessage], context: ChatContext) -> str:
        text = self.format.render(messages)
        if self.format.warning and self.format.warning not in context.warnings:
            context.warnings.append(self.format.warning)
        return text

    def _generate(self, prompt: ChatPrompt, on_text: OnText | None, cancel: threading.Event | None) -> GenerationResult:
        request = GenerationRequest(
            prompt=prompt.text,
            max_tokens=prompt.max_tokens,
            time_limit_s=self.config.generation_time_cap_s,
            temperature=self.config.temperature,
        )
        with self._lock:
            return self.backend.generate(request, on_text=on_text, cancel=cancel)


def _outermost(snippets: list[Snippet]) -> list[Snippet]:
    """Drop snippets inside another of the same file (a method inside its class); the
    enclosing one takes the place of the first it covers, so the ranking order holds."""
    def inside(a: Snippet, b: Snippet) -> bool:
        return a.path == b.path and b.start_line <= a.start_line and a.end_line <= b.end_line

    kept: list[Snippet] = []
    for snip in snippets:
        if any(inside(snip, k) for k in kept):
            continue
        covered = [i for i, k in enumerate(kept) if inside(k, snip)]
        if covered:
            kept[covered[0]] = snip
            kept = [k for i, k in enumerate(kept) if i not in covered[1:]]
        else:
            kept.append(snip)
    return kept


_CUT = {"length": "token limit; ask it to continue", "time": "time cap; ask it to continue"}
