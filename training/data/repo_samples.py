"""Repository-level samples (stage 2): several files of one repository, the last one with FIM.

The text is built by ``model.prompt.repo_fim`` / ``repo_completion``, the formatter the server
uses for repo-level prompts (technical report Figure 4), so training and inference agree byte
for byte::

    <|repo_name|>{repo}
    <|file_sep|>{path1}
    {content1}
    <|file_sep|>{current_path}
    <|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>{middle}<|endoftext|>

``RepoGrouper`` turns a stream of documents into units: each code document of a repository
lands in exactly one group (no file is repeated), groups fill up to a token budget, the
repository's files are shuffled (seeded) so any file may be the current one. Other documents
(prose, maths, files too big to share a sequence) pass through as single-document units.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterator

from model.prompt import Prompt, RepoFile, marker, repo_completion, repo_fim
from model.tokens import ENDOFTEXT
from training.data.fim import FimConfig, choose_mode, split_span
from training.data.sources import Document

#: Tokens of a repo-level sample that are not file text: <|repo_name|>, name line, separators,
#: FIM tokens and EOS (a generous bound; the packer still checks the exact length).
_OVERHEAD = 16


def repo_sample(repo: str, context: list[Document], current: Document, rng: random.Random, cfg: FimConfig,
                stats: Counter) -> Prompt:
    """The training text of a repo-level sample (FIM in the current file with ``cfg.rate``)."""
    files = [RepoFile(d.path, d.text) for d in context]
    if rng.random() < cfg.rate and current.text:
        prefix, middle, suffix = split_span(current.text, current.lang, rng, cfg, stats)
        mode = choose_mode(rng, cfg)
        stats[f"repo_{mode}"] += 1
        return repo_fim(repo, files, current.path, prefix, suffix, mode=mode) + middle + marker(ENDOFTEXT)
    stats["repo_plain"] += 1
    return repo_completion(repo, files, current.path, current.text) + marker(ENDOFTEXT)


class RepoGrouper:
    """Groups consecutive code documents of one repository into token-budgeted units."""

    def __init__(self, budget: int, count_tokens: Callable[[str], int], seed: int, max_buffer_tokens: int | None = None):
        self.budget = budget
        self.count = count_tokens
        self.seed = seed
        self.max_buffer = max_buffer_tokens or 64 * budget  # bounds memory on huge repositories
        self.batches = 0

    def units(self, docs: Iterator[Document]) -> Iterator[tuple[Document, ...]]:
        buffer: list[tuple[Document, int]] = []
        buffered = 0
        for doc in docs:
            if doc.kind != "code":
                yield (doc,)
                continue
            if buffer and (doc.repo != buffer[0][0].repo or buffered >= self.max_buffer):
                yield from self._groups(buffer)
                buffer, buffered = [], 0
            n = self.count(f"{doc.path}\n{doc.text}\n") + 1
            buffer.append((doc, n))
            buffered += n
        if buffer:
            yield from self._groups(buffer)

    def _groups(self, buffer: list[tuple[Document, int]]) -> Iterator[tuple[Document, ...]]:
        rng = random.Random(self.seed * 1_000_003 + self.batches)
        self.batches += 1
        order = list(buffer)
        rng.shuffle(order)
        repo_tokens = self.count(f"{order[0][0].repo}\n") + _OVERHEAD
        group: list[Document] = []
        used = repo_tokens
        for doc, n in order:
            if group and used + n > self.budget:
                yield tuple(group)
                group, used = [], repo_tokens
            group.append(doc)
            used += n
        if group:
            yield tuple(group)
