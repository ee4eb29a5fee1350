"""The FIM transform: a document becomes prefix/middle/suffix and is written as the model
sees it at inference, followed by the middle and ``<|endoftext|>``.

The prompt part comes from ``model.prompt.fim`` (the one formatter inference uses), so a
PSM training sample is byte for byte the server's prompt plus the answer::

    <|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>{middle}<|endoftext|>

SPM swaps prefix and suffix (``<|fim_suffix|>{suffix}<|fim_prefix|>{prefix}<|fim_middle|>``).
The FIM rate (share of documents transformed) and SPM rate (share of those in SPM order) are
parameters: Qwen did not publish them; StarCoder used 0.5 and 0.5.

The middle span is chosen by characters (StarCoder: two uniform cut points), by whole lines,
or as one tree-sitter syntax node (a statement, expression, block ...), falling back to
lines where no grammar is installed or no node fits. Randomness comes from the caller's
``random.Random``, seeded per sample, so a rerun makes the same samples.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from model.prompt import Prompt, as_text, fim, marker
from model.tokens import ENDOFTEXT
from training.data.languages import grammar_of
from training.errors import DataError

SPANS = ("chars", "lines", "node")


@dataclass(frozen=True)
class FimConfig:
    rate: float = 0.5  # share of code documents turned into FIM samples
    spm_rate: float = 0.5  # share of FIM samples in SPM order (the rest PSM)
    span: str = "lines"  # how the middle is chosen: chars | lines | node
    min_node_chars: int = 3  # smallest syntax node (non-blank characters) that may be the middle

    def __post_init__(self) -> None:
        if self.span not in SPANS:
            raise DataError(f"FIM span must be one of {', '.join(SPANS)}, not {self.span!r}")
        for name in ("rate", "spm_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise DataError(f"FIM {name} must be between 0 and 1")


def plain_sample(text: str) -> Prompt:
    """A left-to-right sample: the document (as text) and ``<|endoftext|>``."""
    return as_text(text) + marker(ENDOFTEXT)


def fim_sample(prefix: str, middle: str, suffix: str, mode: str) -> Prompt:
    """The training text of one FIM sample: inference's prompt, the middle, EOS.

    A ``Prompt``: tokenize it with ``model.text_tokens.prompt_ids`` (markers by ID, the
    document's text as text, as the server does)."""
    return fim(prefix, suffix, mode=mode) + middle + marker(ENDOFTEXT)


def choose_mode(rng: random.Random, cfg: FimConfig) -> str:
    return "spm" if rng.random() < cfg.spm_rate else "psm"


def file_sample(text: str, lang: str, rng: random.Random, cfg: FimConfig, stats: Counter) -> Prompt:
    """The file-level sample of one code document: FIM with probability ``cfg.rate``."""
    if rng.random() >= cfg.rate or not text:
        stats["plain"] += 1
        return plain_sample(text)
    prefix, middle, suffix = split_span(text, lang, rng, cfg, stats)
    mode = choose_mode(rng, cfg)
    stats[mode] += 1
    return fim_sample(prefix, middle, suffix, mode)


def split_span(text: str, lang: str, rng: random.Random, cfg: FimConfig, stats: Counter) -> tuple[str, str, str]:
    """(prefix, middle, suffix) with prefix + middle + suffix == text."""
    if cfg.span == "node":
        got = node_span(text, lang, rng, cfg.min_node_chars)
        if got is not None:
            stats["span_node"] += 1
            return got
        stats["span_node_fallback"] += 1
    if cfg.span == "chars":
        a, b = sorted((rng.randint(0, len(text)), rng.randint(0, len(text))))
        return text[:a], text[a:b], text[b:]
    return line_span(text, rng)


def line_span(text: str, rng: random.Random) -> tuple[str, str, str]:
    """A run of whole lines as the middle."""
    lines = text.splitlines(keepends=True)
    start = rng.randrange(len(lines))
    end = rng.randint(start + 1, len(lines))
    return "".join(lines[:start]), "".join(lines[start:end]), "".join(lines[end:])


def node_span(text: str, lang: str, rng: random.Random, min_chars: int) -> tuple[str, str, str] | None:
    """One named tree-sitter node (not the whole file) as the middle, or None."""
    grammar = grammar_of(lang)
    parser = _parser(grammar) if grammar else None
    if parser is None:
        return None
    data = text.encode("utf-8")
    tree = parser.parse(data)
    spans: list[tuple[int, int]] = []
    stack = list(tree.root_node.named_children)
    while stack:
        node = stack.pop()
        s, e = node.start_byte, node.end_byte
        if e - s < len(data) and len(data[s:e].split()) and len(b"".join(data[s:e].split())) >= min_chars:
            spans.append((s, e))
        stack.extend(node.named_children)
    if not spans:
        return None
    spans.sort()
    s, e = spans[rng.randrange(len(spans))]
    return data[:s].decode("utf-8"), data[s:e].decode("utf-8"), data[e:].decode("utf-8")


@lru_cache(maxsize=None)
def _parser(grammar: str):
    try:
        from tree_sitter_language_pack import get_parser

        return get_parser(grammar)
    except Exception:  # a grammar this install lacks: the caller falls back to lines
        return None
