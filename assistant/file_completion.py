"""File-level completion: the first form of the pipeline (context = the current file only).

prefix/suffix around the cursor -> token budget (far prefix first) -> cache-friendly FIM
prompt (the current line's text goes after ``<|fim_middle|>``) -> greedy generation with
Qwen's stop set -> leaked-token cut. The repository-level engine replaces the context step
and adds the post-processing chain; the prompt format stays the one in ``model.prompt``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from assistant.document import Cursor, clamp_cursor
from model.backends.base import Backend, GenerationRequest
from model.fit import fit_prefix_suffix
from model.prompt import fim, split_current_line
from model.tokens import cut_at_leaked_token


@dataclass(frozen=True)
class FilePrompt:
    text: str  # the exact prompt
    cursor: Cursor
    middle_start: str  # the current line up to the cursor (already typed; not part of the result)
    multiline: bool  # the cursor is at the end of its line: allow a block


@dataclass
class Candidate:
    text: str
    mean_logprob: float


@dataclass
class FileCompletion:
    text: str
    prompt: FilePrompt
    candidates: list[Candidate] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    prompt_tokens: int = 0
    reused_tokens: int = 0


def build_file_prompt(
    text: str,
    line: int,
    col: int,
    *,
    budget: int,
    count: Callable[[str], int],
) -> FilePrompt:
    """The file-level FIM prompt at (line, col), 0-based, fitted into ``budget`` tokens."""
    cursor = clamp_cursor(text, line, col)
    prefix, suffix = text[: cursor.offset], text[cursor.offset :]
    head, current = split_current_line(prefix)
    rest_of_line = suffix.split("\n", 1)[0]
    head, suffix = fit_prefix_suffix(head, suffix, max(0, budget - count(current)), count)
    return FilePrompt(
        fim(head, suffix, middle_start=current),
        cursor,
        current,
        multiline=not rest_of_line.strip(),
    )


def complete_file(
    backend: Backend,
    text: str,
    line: int,
    col: int,
    *,
    n: int = 1,
    max_tokens: int = 64,
    time_limit_s: float | None = 10.0,
) -> FileCompletion:
    """Complete at (line, col) with ``n`` candidates (1 greedy, the rest sampled), best first."""
    budget = backend.n_ctx - max_tokens - 8
    prompt = build_file_prompt(text, line, col, budget=budget, count=lambda s: len(backend.tokenize(s)))
    stops = () if prompt.multiline else ("\n",)
    started = time.perf_counter()
    candidates: list[Candidate] = []
    first = None
    for i in range(max(1, n)):
        result = backend.generate(
            GenerationRequest(
                prompt.text,
                max_tokens=max_tokens,
                stop_texts=stops,
                time_limit_s=time_limit_s,
                temperature=0.0 if i == 0 else 0.8,
                seed=i,
            )
        )
        first = first or result
        out = cut_at_leaked_token(result.text)
        if prompt.multiline:
            out = out.rstrip()
        if out.strip() and all(c.text != out for c in candidates):
            candidates.append(Candidate(out, result.mean_logprob))
    candidates.sort(key=lambda c: c.mean_logprob, reverse=True)
    return FileCompletion(
        text=candidates[0].text if candidates else "",
        prompt=prompt,
        candidates=candidates,
        timings={
            "prompt_s": first.prompt_s,
            "generate_s": first.gen_s,
            "total_s": time.perf_counter() - started,
        },
        prompt_tokens=first.prompt_tokens,
        reused_tokens=first.reused_tokens,
    )
