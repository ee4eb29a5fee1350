"""Latency-targeted sizing: how many prompt tokens a cold completion can afford.

The engine knows the backend's prompt-evaluation and generation speed: measured by a short
calibration at start-up, then refreshed from every real request's timings (an exponential
moving average, so a machine that gets busy is noticed). A cold completion (nothing of its
prompt cached) is sized so that evaluating the uncached tokens plus generating the expected
output fits the target; warm completions, whose prompt is mostly cached, keep the full
budget. No anchor tool sizes context by measured speed.

The expected output is learned too, per token cap (a single line's, a block's): until a
request with that cap has been answered it is the cap itself, so the first completion after
start-up stays inside the target whatever it writes; then the moving average of what was
written. So is the engine's own time around the model (context, tokenizing, shaping).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass
class SpeedEstimate:
    prompt_tps: float = 150.0  # tokens/s, docs/design.md §4 figure for 0.5B on 2 cores
    gen_tps: float = 23.0
    overhead_s: float = 0.1  # the engine's time per request besides the model's
    samples: int = 0  # 0 = still the default guess


class LatencyModel:
    def __init__(self, alpha: float = 0.3) -> None:
        self.alpha = alpha
        self.speed = SpeedEstimate()
        self._lock = threading.Lock()
        self._written: dict[int, float] = {}  # token cap -> moving average of tokens written

    def expected_output(self, max_new: int) -> int:
        """Tokens a request capped at ``max_new`` is expected to write: the cap until one was
        answered, then the moving average of what such requests wrote."""
        with self._lock:
            seen = self._written.get(max_new)
        return max_new if seen is None else min(max_new, max(1, round(seen)))

    def observe(self, prompt_tokens: int, prompt_s: float, gen_tokens: int, gen_s: float, *,
                max_new: int | None = None, total_s: float | None = None) -> None:
        """Fold one request's timings in (ignores measurements too small to be meaningful);
        ``max_new``: its token cap (to learn what such requests write), ``total_s``: its whole
        time in the engine (to learn the overhead around the model)."""
        with self._lock:
            s = self.speed
            if max_new:
                seen = self._written.get(max_new)
                self._written[max_new] = gen_tokens if seen is None else (1 - self.alpha) * seen + self.alpha * gen_tokens
            if total_s is not None and total_s >= prompt_s + gen_s:
                s.overhead_s = (1 - self.alpha) * s.overhead_s + self.alpha * (total_s - prompt_s - gen_s)
            a = 1.0 if s.samples == 0 else self.alpha
            if prompt_tokens >= 16 and prompt_s > 0:
                s.prompt_tps = (1 - a) * s.prompt_tps + a * (prompt_tokens / prompt_s)
            if gen_tokens >= 4 and gen_s > 0:
                s.gen_tps = (1 - a) * s.gen_tps + a * (gen_tokens / gen_s)
            s.samples += 1

    def calibrate(self, backend) -> SpeedEstimate:
        """A short real measurement: a 96-token prompt and 8 generated tokens."""
        from model.backends.base import GenerationRequest

        prompt = "def fibonacci(n):\n" + "    # compute the sequence iteratively\n" * 12
        result = backend.generate(GenerationRequest(prompt, max_tokens=8, stop_ids=frozenset()))
        self.observe(result.evaluated_tokens, result.prompt_s, len(result.token_ids), result.gen_s)
        return self.speed

    def prompt_budget(self, target_s: float, expected_new_tokens: int, cached_tokens: int = 0) -> int:
        """Prompt tokens affordable within ``target_s`` when ``cached_tokens`` are already in the KV cache."""
        with self._lock:
            gen_s = expected_new_tokens / max(self.speed.gen_tps, 1e-3)
            left = max(0.0, target_s - gen_s - self.speed.overhead_s)
            return cached_tokens + int(left * self.speed.prompt_tps)
