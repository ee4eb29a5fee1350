"""Progressive context: the prompt grows to the full budget in the background.

The first completion after a file is opened, or after a jump to a distant place, is sized by
the latency target (``assistant.latency``): only what the model can evaluate in time goes in.
Once it is answered, the engine queues a growth job on the scheduler's background queue: the
stable part of the full-budget prompt for that cursor (everything but the current line: the
same snippets, the same budget decisions as the next keystroke's prompt) is evaluated into
the KV cache ``GROW_CHUNK`` tokens at a time, once ``GROW_AFTER_S`` passed without a request.
A request preempts it (the scheduler cancels background work when one arrives): before it
starts at once, inside a chunk otherwise (llama.cpp's abort hook: the unfinished chunk's cells
are dropped), so the cache holds exactly the chunks done. When the next keystroke's full
prompt is cached, or the rest of it fits the latency target (or, on a nearby line,
``KEEP_FULL`` times it), it is sent whole: only its changed tail is evaluated. Before that, a
keystroke sends the full prompt's start as far as it is cached, then the text nearest the
cursor (``ContextBuilder.compose``): every grown token is used, and the next step extends the
same start. While a grown prompt is cached the engine holds its snippet set, and the smaller
prompt's layout (or a cold budget), once chosen, is kept while its prompt stays cached and
growth has not moved, so that neither a re-ranking nor a noisy speed estimate moves the
cached prefix.

Limits, measured by bench/keystroke_latency.py (docs/design.md, "Progressive context"): there
is one KV sequence, so growth overwrites the text nearest the cursor, which the first
keystroke after a growing pause evaluates again, and growth happens in pauses only; text
typed on a new line is inserted before the suffix, which llama.cpp cannot keep
(``model.kv_reuse``), so a line change re-evaluates the rest of the prompt.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass

from assistant.latency import LatencyModel
from repo_index.documents import common_prefix

#: Tokens evaluated per growth step. A request does not wait for the step: llama.cpp stops
#: inside it (the backend's abort hook) and drops its cells. A step's tokenizing and cache
#: probe are the per-step cost: 32-token steps grew 20 % slower than the model evaluates.
GROW_CHUNK = 64
#: A full prompt that is mostly cached (the user moved to a nearby line: its tail changed) is
#: kept when its uncached part is at most this many times the cold budget: that keystroke
#: costs up to twice the target once, where falling back to the cold-sized prompt would cost
#: about the target and lose the grown context until the next pause. A distant jump (little
#: of the full prompt cached) falls back.
KEEP_FULL = 2
#: Growth starts only after this long without a request: while the user types on, the
#: next keystroke comes first and cancels it before any work (no step to wait for).
GROW_AFTER_S = 0.25


@dataclass
class GrowthState:
    state: str = "idle"  # idle, growing, interrupted, full, stopped
    prompt_tokens: int = 0  # the last completion's prompt
    sized_by: str = ""  # "full budget" or "latency target"
    full_tokens: int = 0  # the stable part of the full-budget prompt at the last cursor
    cached_tokens: int = 0  # how much of it is in the KV cache
    steps: int = 0  # growth steps evaluated since the engine started
    interruptions: int = 0  # times a request preempted growth
    why: str = ""  # why growth stopped


class Sizer:
    """How much of a prompt is cached, and whether the full one fits the latency target."""

    def __init__(self, latency: LatencyModel) -> None:
        self.latency = latency
        self.last_prompt = ""  # for backends that cannot say what they hold
        self.sticky: int | None = None  # the last cold budget (kept while it fits)
        self.held = None  # (layout or cold budget, growth steps) of the last smaller prompt (kept while it fits)
        self.chars_per_token = 3.0

    def cached(self, backend, prompt: str) -> tuple[int, int]:
        """(tokens of ``prompt`` cached as its prefix, its tokens): asked of the backend when
        it can say, else estimated from the last prompt sent."""
        probe = getattr(backend, "cached_tokens", None)
        found = probe(prompt) if probe is not None else None
        if found is not None:
            return found
        shared = common_prefix(prompt, self.last_prompt)
        return int(shared / self.chars_per_token), int(len(prompt) / self.chars_per_token)

    def cold_budget(self, target_s: float, expected_new: int, cached: int, total: int) -> int | None:
        """None when the full prompt fits ``target_s`` (its uncached part plus the expected
        output); else the token budget of a cold prompt that does."""
        affordable = max(64, self.latency.prompt_budget(target_s, expected_new, 0))  # 64: the smallest prompt sent
        return None if total - cached <= affordable else affordable

    def choose(self, backend, build, full: int, target_s: float, expected_new: int, *, layout=None, compose=None,
               grown: int = 0):
        """(parts, None) for the full-budget prompt when it fits ``target_s``; else (parts,
        budget) for a smaller one that does.

        With ``layout`` and ``compose`` (``ContextBuilder.layout``/``compose``, bound to the
        request) the smaller prompt is the full one's start, as far as it is cached (what
        growth evaluated), then the text nearest the cursor: it uses every grown token, and
        the next growth step extends it. Where nothing has grown yet it is a cold prompt
        packed for its budget (``build(budget)``: short forms of the definitions in use
        first). Either is held while its prompt stays cached and growth has not moved
        (``grown``: growth steps so far), so that typing on a line re-evaluates only the
        typed tokens. Without them, a cold budget chosen last is tried first and kept while
        its prompt still fits: a budget recomputed from a noisy speed estimate at every
        keystroke would change the prompt's prefix, and with it what is cached."""
        parts = build(full)
        cached, total = self.cached(backend, parts.prompt)
        budget = self.cold_budget(target_s, expected_new, cached, total)
        if budget is None or budget >= full:
            self.held = None
            return parts, None
        if layout is not None and compose is not None:
            return self._compose(backend, parts, cached, total, budget, build, layout, compose, grown)
        if self.sticky is not None and self.sticky < full:
            kept = build(self.sticky)
            small_cached, small_total = self.cached(backend, kept.prompt)
            if small_total - small_cached <= budget:
                return kept, self.sticky
        if total - cached <= KEEP_FULL * budget:
            return parts, None  # a near place (a new line): keep the grown prompt, see KEEP_FULL
        small = build(budget)
        small_cached, small_total = self.cached(backend, small.prompt)
        if total - cached <= small_total - small_cached:
            return parts, None  # the cold-sized prompt would cost no less: keep the full one cached
        self.sticky = budget
        return small, budget

    def _compose(self, backend, parts, cached: int, total: int, budget: int, build, layout, compose, grown: int):
        def made(chosen):  # a held choice: a layout on the grown start, or a cold budget
            return build(chosen) if isinstance(chosen, int) else compose(parts, chosen)

        if self.held is not None and self.held[1] == grown:
            kept = made(self.held[0])
            kept_cached, kept_total = self.cached(backend, kept.prompt)
            if kept_total - kept_cached <= budget:
                held = self.held[0]  # typing on: the same prompt, only the typed tokens are new
                return kept, held if isinstance(held, int) else budget
        if total - cached <= KEEP_FULL * budget:
            self.held = None
            return parts, None  # a near place (a new line): keep the grown prompt, see KEEP_FULL
        chosen = layout(parts, cached, budget)
        if not chosen.grown:
            chosen = budget  # nothing grown here yet: a cold prompt packed for its budget (short forms first)
        out = made(chosen)
        out_cached, out_total = self.cached(backend, out.prompt)
        if total - cached <= out_total - out_cached:
            self.held = None
            return parts, None  # the smaller prompt would cost no less: keep the full one
        self.held = (chosen, grown)
        return out, budget

    @property
    def on_grown_start(self) -> bool:
        """Whether the last smaller prompt chosen starts with what growth cached (else cold)."""
        return self.held is not None and not isinstance(self.held[0], int)

    def observe(self, prompt: str, prompt_tokens: int) -> None:
        if prompt_tokens:
            self.chars_per_token = max(1.0, len(prompt) / prompt_tokens)
        self.last_prompt = prompt


class Growth:
    """The background growth job and its state (one per engine: one model, one cache)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.state = GrowthState()

    def note_prompt(self, tokens: int, full: bool) -> None:
        with self._lock:
            self.state.prompt_tokens = tokens
            self.state.sized_by = "full budget" if full else "latency target"

    def reset(self) -> None:
        """A new model or adapter: nothing grown before is valid."""
        with self._lock:
            self.state = GrowthState(steps=self.state.steps, interruptions=self.state.interruptions)

    def grow(self, backend, stable_prompt, cancel: threading.Event) -> str:
        """Evaluate the prompt ``stable_prompt()`` builds into ``backend``'s KV cache,
        ``GROW_CHUNK`` tokens at a time, after ``GROW_AFTER_S`` without a request, until it is
        all cached or ``cancel`` is set; returns the state it ends in."""
        if cancel.wait(GROW_AFTER_S):  # the scheduler sets it as soon as a request arrives
            with self._lock:
                self.state.interruptions += 1
            return self._end("interrupted", self.state.cached_tokens, self.state.full_tokens)
        stable = stable_prompt()
        probe = getattr(backend, "cached_tokens", None)
        found = probe(stable) if probe is not None and stable else None
        if found is None:
            return self._end("stopped", why="the backend keeps no KV cache to grow into")
        cached, total = found
        if total + 64 > backend.n_ctx:
            return self._end("stopped", cached, total, "the full prompt does not fit the context window")
        while cached < total:
            if cancel.is_set():
                with self._lock:
                    self.state.interruptions += 1
                return self._end("interrupted", cached, total)
            self._set("growing", cached, total)
            backend.prefill(stable, cancel=cancel, upto=min(total, cached + GROW_CHUNK))
            with self._lock:
                self.state.steps += 1
            now, total = probe(stable)
            if now <= cached and not cancel.is_set():
                # no progress (the backend truncates or refuses): stop rather than loop
                return self._end("stopped", now, total, "the backend did not keep what it evaluated")
            cached = now
        return self._end("full", cached, total)

    def _set(self, state: str, cached: int, total: int) -> None:
        with self._lock:
            self.state.state, self.state.cached_tokens, self.state.full_tokens = state, cached, total

    def _end(self, state: str, cached: int = 0, total: int = 0, why: str = "") -> str:
        with self._lock:
            self.state.state, self.state.cached_tokens, self.state.full_tokens = state, cached, total
            self.state.why = why
        return state

    def status(self) -> dict:
        with self._lock:
            return asdict(self.state)

    def explain(self) -> str:
        s = self.status()
        grown = f"; growth {s['state']}: {s['cached_tokens']} of {s['full_tokens']} tokens cached" if s["full_tokens"] else ""
        return f"prompt of {s['prompt_tokens']} tokens, sized by the {s['sized_by']}{grown}"
