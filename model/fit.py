"""Fit a FIM prefix and suffix into a token budget: the far prefix goes first.

Used when a prompt would not fit the model's context, which holds the prompt and the answer
together (n_ctx tokens). The text next to the cursor matters most, so whole lines are
dropped from the start of the prefix and the end of the suffix; the suffix keeps at least
``suffix_share`` of the budget when it needs it. A single line longer than what is left
(minified code) is cut by characters.
"""

from __future__ import annotations

from collections.abc import Callable

CountTokens = Callable[[str], int]


def keep_tail(text: str, budget: int, count: CountTokens) -> str:
    """The longest run of whole trailing lines of ``text`` within ``budget`` tokens
    (the end of the line, by characters, when even the last line is too long)."""
    if budget <= 0 or not text:
        return ""
    if count(text) <= budget:
        return text
    lines = text.splitlines(keepends=True)
    kept: list[str] = []
    used = 0
    for line in reversed(lines):
        cost = count(line)
        if used + cost > budget:
            if not kept:  # one enormous line: keep its end, by characters
                lo, hi = 0, len(line)
                while lo < hi:  # smallest start whose tail fits
                    mid = (lo + hi) // 2
                    if count(line[mid:]) <= budget:
                        hi = mid
                    else:
                        lo = mid + 1
                return line[lo:]
            break
        kept.append(line)
        used += cost
    out = "".join(reversed(kept))
    while out and count(out) > budget:  # per-line sums can undercount at line joins
        out = out[out.find("\n") + 1 :] if "\n" in out else ""
    return out


def _keep_head(text: str, budget: int, count: CountTokens) -> str:
    """The longest run of whole leading lines of ``text`` within ``budget`` tokens."""
    if budget <= 0 or not text:
        return ""
    if count(text) <= budget:
        return text
    kept: list[str] = []
    used = 0
    for line in text.splitlines(keepends=True):
        cost = count(line)
        if used + cost > budget:
            if not kept:
                lo, hi = 0, len(line)
                while lo < hi:  # longest head that fits
                    mid = (lo + hi + 1) // 2
                    if count(line[:mid]) <= budget:
                        lo = mid
                    else:
                        hi = mid - 1
                return line[:lo]
            break
        kept.append(line)
        used += cost
    out = "".join(kept)
    while out and count(out) > budget:
        cut = out.rstrip("\n").rfind("\n")
        out = out[: cut + 1] if cut != -1 else ""
    return out


def fit_prefix_suffix(
    prefix: str,
    suffix: str,
    budget: int,
    count: CountTokens,
    *,
    suffix_share: float = 0.25,
) -> tuple[str, str]:
    """Trim ``prefix`` (from its start) and ``suffix`` (from its end) to ``budget`` tokens."""
    if budget <= 0:
        return "", ""
    p, s = count(prefix), count(suffix)
    if p + s <= budget:
        return prefix, suffix
    suffix_budget = max(int(budget * suffix_share), budget - p)
    suffix = _keep_head(suffix, min(s, suffix_budget), count)
    prefix = keep_tail(prefix, budget - count(suffix), count)
    return prefix, suffix
