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


class _Prompts:
    """What a backend would say is cached, per prompt text."""

    n_ctx = 4096

    def __init__(self, table: dict[str, tuple[int, int]]) -> None:
        self.table = table

    def cached_tokens(self, prompt: str) -> tuple[int, int]:
        return self.table[prompt]


def test_a_composed_prompt_is_held_while_typing_and_recomposed_once_growth_moves():
    sizer, cold = _sizer()
    layouts: list[int] = []

    def layout(parts, cached, budget):
        layouts.append(cached)
        return SimpleNamespace(at=cached, grown=cached >= 500)  # nothing grown under 500 (a stub's rule)

    def choose(table: dict[str, tuple[int, int]], grown: int) -> tuple[str, int | None]:
        parts, budget = sizer.choose(_Prompts(table), lambda b: SimpleNamespace(prompt="full" if b == 2048 else f"cold {b}"),
                                     2048, 1.5, 4, layout=layout,
                                     compose=lambda parts, chosen: SimpleNamespace(prompt=f"grown {chosen.at}"), grown=grown)
        return parts.prompt, budget

    # nothing grown yet: a cold prompt packed for its budget, kept while typing on
    assert choose({"full": (40, 2048), f"cold {cold}": (0, cold)}, grown=0) == (f"cold {cold}", cold)
    sizer.latency.observe(1000, 5.0, 100, 5.0)  # faster now: the held cold prompt stays all the same
    assert choose({"full": (40, 2048), f"cold {cold}": (cold - 1, cold)}, grown=0) == (f"cold {cold}", cold)
    sizer.latency.observe(1000, 10.0, 100, 5.0)
    cold = sizer.latency.prompt_budget(1.5, 4)
    # growth cached 1,000 of 2,048 tokens: that start, then the text near the cursor
    assert choose({"full": (1000, 2048), "grown 1000": (1000, 1000 + cold)}, grown=5) == ("grown 1000", cold)
    # typing on: the same layout, whatever the full prompt's cached prefix says now
    assert choose({"full": (1040, 2048), "grown 1000": (1000 + cold - 1, 1000 + cold)}, grown=5) == ("grown 1000", cold)
    assert layouts == [40, 1000]
    # growth moved (it overwrote the near part): the new frontier is used
    assert choose({"full": (1300, 2048), "grown 1000": (1000, 1000 + cold), "grown 1300": (1300, 1300 + cold)},
                  grown=9) == ("grown 1300", cold)
    assert layouts == [40, 1000, 1300]
    # grown to the full prompt's tail: the full prompt itself
    assert choose({"full": (2048 - 10, 2048)}, grown=12) == ("full", None)
    # a composed prompt that would cost more than the full one's uncached part is not sent
    sizer.held = None
    assert choose({"full": (2048 - KEEP_FULL * cold - 50, 2048), f"grown {2048 - KEEP_FULL * cold - 50}": (0, 3000)},
                  grown=13) == ("full", None)
