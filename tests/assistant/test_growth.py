"""assistant.growth.Sizer's decision, pure logic (the real-model behaviour is in
test_growth_real.py): the full prompt when it fits the latency target or is mostly cached (a
nearby line), a cold-sized one after a distant jump, and that cold budget kept while it fits."""

from __future__ import annotations

from types import SimpleNamespace

from assistant.growth import KEEP_FULL, Sizer
from assistant.latency import LatencyModel


class _Cache:
    """What a backend would say is cached: a fixed count per prompt (each prompt is its budget)."""

    n_ctx = 4096

    def __init__(self, cached: dict[int, int]) -> None:
        self.cached = cached

    def cached_tokens(self, prompt: str) -> tuple[int, int]:
        budget = int(prompt)
        return self.cached.get(budget, 0), budget


def _sizer() -> tuple[Sizer, int]:
    latency = LatencyModel()
    latency.observe(1000, 10.0, 100, 5.0)  # 100 tokens/s prompt, 20 tokens/s generation
    sizer = Sizer(latency)
    return sizer, latency.prompt_budget(1.5, 4)  # about 130 tokens


def test_full_when_it_fits_or_is_mostly_cached_cold_sized_after_a_distant_jump():
    sizer, cold = _sizer()

    def choose(cached: dict[int, int]) -> tuple[str, int | None]:
        # a "prompt" is its budget written out, so that the stub can answer for it
        parts, budget = sizer.choose(_Cache(cached), lambda b: SimpleNamespace(prompt=str(b)), 2048, 1.5, 4)
        return parts.prompt, budget

    assert choose({2048: 2048 - 10}) == ("2048", None)  # grown: the tail only
    near = 2048 - KEEP_FULL * cold  # a new line: the changed tail is up to KEEP_FULL cold budgets
    assert choose({2048: near}) == ("2048", None)
    assert choose({2048: 300}) == (str(cold), cold)  # a distant jump: cold-sized
    # the next keystroke keeps that budget while its prompt is cached, whatever the estimate says
    sizer.latency.observe(1000, 5.0, 100, 5.0)  # faster now: a new cold budget would differ
    assert choose({cold: cold - 3}) == (str(cold), cold)
