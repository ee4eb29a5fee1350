"""The completion engine: a cursor in, ranked completions out.

request -> cache (exact or typed-ahead: no model call) -> scheduler (one generation at a
time; the newest request per document wins) -> context builder (repo-level prompt under a
token budget sized by measured speed) -> backend (stop set, time caps) -> post-processing
-> cache. Knows nothing of LSP; the server and the CLI both drive it.

Multi-line suggestions stream (``complete_streamed``): the first line is delivered, and
cached, as soon as the model has written it; generation goes on within the time cap and
the whole block then replaces it in the cache and completes the second future. A newer
request that the cache cannot answer supersedes the block in the scheduler as usual.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path

from assistant import large_document
from assistant.cache import CachedCompletion, CompletionCache
from assistant.config import EngineConfig
from assistant.context import ContextBuilder, Retriever
from assistant.document import clamp_cursor, forget_lines, lines_of
from assistant.growth import Growth, Sizer
from assistant.latency import LatencyModel
from assistant.open_documents import DOCUMENT_WINDOW, OpenDocuments
from assistant.postprocess import CompletionContext, ModeLimits, Shown, Step, cover_closers, decide_line_mode, shape_completion
from assistant.ranking import filter_explain, item_at, rank, refusal
from assistant.request import CompletionRequest, CompletionResult, ExplainEntry
from assistant.scheduler import Scheduler, Superseded
from assistant.streaming import FirstLine, settle
from model.backends.base import Backend, GenerationRequest
from model.registry import backend_format
from repo_index import Snippet

#: A path policy answers (allowed, reason) for "may this file, with this text, enter a prompt"
#: (``repo_index.SourcePolicy``: the text is scanned whole for secrets; docs/security.md).
PathPolicy = Callable[[Path, str | None], tuple[bool, str]]

class CompletionEngine:
    def __init__(
        self,
        backend: Backend,
        *,
        config: EngineConfig | None = None,
        workspace_root: Path | None = None,
        repo_name: str | None = None,
        retriever: Retriever | None = None,
        path_policy: PathPolicy | None = None,
    ) -> None:
        self.config = config or EngineConfig()
        self.backend = backend
        self.workspace_root = workspace_root.resolve() if workspace_root else None
        self.repo_name = repo_name or (self.workspace_root.name if self.workspace_root else None)
        self.path_policy = path_policy
        self.scheduler = Scheduler()
        self.cache = CompletionCache(self.config.cache_entries)
        self.latency = LatencyModel()
        self.prompt_format = backend_format(backend)  # the family's layout, file-level without repo tokens
        self.context = ContextBuilder(
            self._count,
            retriever=retriever,
            prefix_lines=self.config.prefix_lines,
            suffix_lines=self.config.suffix_lines,
            max_snippets=self.config.max_snippets,
            refresh_s=self.config.snippet_refresh_s,
            naive_layout=self.config.naive_layout,
            fmt=self.prompt_format,
        )
        self.documents = OpenDocuments()  # other documents lending context
        self._docs = self.documents.docs
        self.sizer = Sizer(self.latency)  # full prompt or cold-sized (assistant/growth.py)
        self.growth = Growth()  # the full prompt grown into the KV cache between requests
        self._hold: tuple[Path, int, float] | None = None  # (path, line, when) of the grown prompt's snippets
        self.counters = {"requests": 0, "model_calls": 0, "cache_hits": 0, "typed_hits": 0, "cancelled": 0,
                         "speculative": 0}

    # -- documents ----------------------------------------------------------------------
    def document_opened(self, path: Path, text: str, line: int = 0) -> Future | None:
        """Track the document and pre-fill, in the background, the stable part of the prompt
        for a cursor on ``line`` (what stays fixed while the user types on that line); then
        grow it to the full budget (assistant/growth.py)."""
        self.documents.changed(path, text, line)
        if large_document.is_large(text) or not self._allowed(path, text)[0]:
            return None  # a large document has no prefill: completions in it use a window
        lines = text.split("\n")
        end = len(lines[line]) if 0 <= line < len(lines) else 0
        request = CompletionRequest(path, text, line, end)  # typing usually happens at a line's end
        done = self.scheduler.submit_background(f"prefill:{path}",
                                                lambda cancel: self._while_open(path, lambda: self._prefill(request, cancel), 0))
        self._queue_growth(request)
        return done

    def document_changed(self, path: Path, text: str, line: int | None = None) -> None:
        self.documents.changed(path, text, line)

    def document_closed(self, path: Path) -> None:
        self.context.forget(path)
        self.documents.closed(path)
        self._forget_text(path)

    def _forget_text(self, path: Path) -> None:
        forget_text = getattr(self.path_policy, "forget_text", None)  # a SourcePolicy keeps texts
        if forget_text is not None:
            forget_text(path)

    def _while_open(self, path: Path, work: Callable[[], object], closed: object) -> object:
        """Background work (pre-fill, growth, speculation) for ``path`` unless the editor has
        closed it; a close during the work forgets the text the work cached again. Without
        this, work queued before a close re-judged and re-split the closed text, and a 4 MB
        document stayed in memory after its close (issue 18 finding 3)."""
        if self.documents.is_closed(path):
            return closed
        try:
            return work()
        finally:
            if self.documents.is_closed(path):
                self._forget_text(path)
                forget_lines()

    # -- requests -----------------------------------------------------------------------
    def complete(self, request: CompletionRequest) -> Future:
        """A future of the ``CompletionResult``; it fails with ``Superseded`` when replaced."""
        return self.complete_streamed(request)[1]

    def complete_streamed(self, request: CompletionRequest) -> tuple[Future, Future]:
        """(first, final) futures of ``CompletionResult``s. For a multi-line suggestion
        ``first`` holds its first line as soon as the model has written it (``stop_reason``
        ``"first_line"``), while ``final`` waits for the whole block; otherwise both hold the
        same result. Either fails with ``Superseded`` when replaced before it is set."""
        if large_document.is_large(request.text):  # file-level context around the cursor
            return large_document.complete_in_window(self.complete_streamed, request)
        self.counters["requests"] += 1
        self.document_changed(request.path, request.text, request.line)
        hit = self._cached(request)
        if hit is not None:
            done: Future = Future()
            done.set_result(hit)
            return done, done
        first: Future = Future()
        final = self.scheduler.submit(str(request.path), lambda cancel: self._run(request, cancel, first))
        final.add_done_callback(lambda f: settle(first, f))
        if self.config.speculative:
            final.add_done_callback(lambda f: self._speculate(request, f))
        return first, final

    def _speculate(self, request: CompletionRequest, done: Future) -> None:
        """llama.vim's speculative step: while the user looks at a suggestion, compute the
        completion that follows it, in the background, into the cache. Accepting the
        suggestion then costs no model call; any real request cancels the work at once."""
        if done.cancelled() or done.exception() is not None:
            return
        result: CompletionResult = done.result()
        if not result.items or not result.items[0].text:
            return
        item = result.items[0]
        cursor = clamp_cursor(request.text, item.line, item.col)
        replaced = item.end_col - item.col if item.end_line == item.line else 0
        text = request.text[: cursor.offset] + item.text + request.text[cursor.offset + replaced :]
        added = item.text.split("\n")
        line = item.line + len(added) - 1
        col = (item.col if len(added) == 1 else 0) + len(added[-1])
        after = CompletionRequest(request.path, text, line, col, candidates=1)
        self.counters["speculative"] += 1
        self.scheduler.submit_background(f"speculate:{request.path}",
                                         lambda cancel: self._while_open(after.path, lambda: self._run(after, cancel), None))

    def complete_sync(self, request: CompletionRequest, timeout: float | None = None) -> CompletionResult:
        try:
            return self.complete(request).result(timeout=timeout)
        except Superseded:
            self.counters["cancelled"] += 1
            return CompletionResult(stop_reason="cancelled", version=request.version)

    def cancel(self, path: Path) -> None:
        self.scheduler.cancel(str(path))

    def build_prompt(self, request: CompletionRequest) -> tuple[str, list[ExplainEntry], list[str]]:
        """The exact prompt a completion at this cursor would send, without generating."""
        allowed, why = self._allowed(request.path, request.text)
        if not allowed:  # --show-prompt and training refuse exactly as a completion does
            return "", [], [refusal(request.path, why)]
        probe = clamp_cursor(request.text, request.line, request.col)
        mode = decide_line_mode(
            CompletionContext.from_prefix_suffix(request.text[: probe.offset], request.text[probe.offset :], path=request.path.name),
            ModeLimits(self.config.max_tokens_single, self.config.max_tokens_multi),
        )
        cursor, parts = self._prompt(request, max_new=mode.max_tokens, expected_new=self.latency.expected_output(mode.max_tokens))
        return parts.prompt, parts.explain, [cursor.warning] if cursor.warning else []

    def calibrate(self) -> None:
        """Measure the backend's speed (a ~100-token prompt and 8 tokens)."""
        self.scheduler.submit("calibrate", lambda cancel: self.latency.calibrate(self.backend)).result()

    def set_backend(self, backend: Backend) -> Backend:
        """Swap the model between generations; returns the old backend (caller closes it)."""

        def swap(cancel):
            old, self.backend = self.backend, backend
            self.prompt_format = self.context.fmt = backend_format(backend)  # the new model's family
            self.cache.clear()
            self.sizer.last_prompt, self.sizer.sticky = "", None
            self.growth.reset()  # nothing grown with the old model is valid
            self._hold = None
            self.context._counts.clear()
            return old

        return self.scheduler.submit("swap-backend", swap).result()

    def close(self) -> None:
        self.scheduler.close()

    # -- internals ----------------------------------------------------------------------
    def _count(self, text: str) -> int:
        return len(self.backend.tokenize(text)) if text else 0

    def _allowed(self, path: Path, text: str | None = None) -> tuple[bool, str]:
        if self.path_policy is None:
            return True, ""
        try:
            return self.path_policy(path, text)
        except OSError as exc:
            return True, f"could not check {path}: {exc}"

    def _rel_path(self, path: Path) -> tuple[str | None, str]:
        """(repo name or None, path as written in the prompt)."""
        if self.workspace_root is not None:
            try:
                return self.repo_name, path.resolve().relative_to(self.workspace_root).as_posix()
            except ValueError:
                pass  # outside the workspace: file-level prompt
        return None, path.name

    def _windows(self, request: CompletionRequest):
        cursor = clamp_cursor(request.text, request.line, request.col)
        lines = lines_of(request.text)
        first = max(0, cursor.line - self.config.prefix_lines)
        before = "\n".join(lines[first : cursor.line] + [lines[cursor.line][: cursor.col]])
        after = "\n".join([lines[cursor.line][cursor.col :]] + lines[cursor.line + 1 : cursor.line + 1 + self.config.suffix_lines])
        return cursor, before, after

    def _cached(self, request: CompletionRequest) -> CompletionResult | None:
        cursor, before, after = self._windows(request)
        hit = self.cache.get(str(request.path), before, after)
        if hit is None:
            return None
        self.counters["typed_hits" if hit.typed else "cache_hits"] += 1
        texts = (hit.completion.text,) + hit.completion.extra
        # The range is not cached: it is recomputed for the text after the cursor now (the
        # same closers, since the suffix is part of the key).
        probe = clamp_cursor(request.text, request.line, request.col)
        pp_context = CompletionContext.from_prefix_suffix(
            request.text[: probe.offset], request.text[probe.offset :], path=request.path.name, multiline=False
        )
        shown = [cover_closers(t, pp_context) for t in texts if t]
        items = [item_at(s, cursor.line, cursor.col) for s in shown if s.text]
        warnings = [cursor.warning] if cursor.warning else []
        return CompletionResult(items, "typed" if hit.typed else "hit", warnings=warnings, version=request.version,
                                stop_reason="first_line" if hit.completion.partial else "")

    def _other_documents(self, current: Path) -> list[Snippet]:
        out: list[Snippet] = []
        for path, doc in self.documents.recent(current):
            repo, rel = self._rel_path(path)
            if repo is None or not self._allowed(path, doc.text)[0]:
                continue
            lines = doc.text.split("\n")
            lo = max(0, doc.last_line - DOCUMENT_WINDOW // 2)
            hi = min(len(lines), lo + DOCUMENT_WINDOW)
            out.append(
                Snippet(path=rel, start_line=doc.first_line + lo, end_line=doc.first_line + hi, text="\n".join(lines[lo:hi]), score=0.0,
                        kind="document", reason="open or recently edited in the editor")
            )
        return out

    def _prompt(self, request: CompletionRequest, *, max_new: int, expected_new: int, grow: bool = False):
        cfg = self.config
        cursor = clamp_cursor(request.text, request.line, request.col)
        repo, rel = self._rel_path(request.path)
        snippets: list[Snippet] = []
        if repo is not None:
            # While a grown prompt for this line is cached its snippet set is held (asked "as
            # of" when it was built): a refresh after a pause would change its prefix.
            hold = self._hold if self._hold is not None and self._hold[:2] == (request.path, cursor.line) else None
            at = time.monotonic() if grow else (hold[2] if hold is not None else None)
            snippets = self._other_documents(request.path) + self.context.snippets(request.path, request.text, cursor, now=at)
            if grow:
                self._hold = (request.path, cursor.line, at)
        full = max(64, min(cfg.context_tokens, self.backend.n_ctx - max_new - 16))

        def build(budget: int):
            return self.context.build(
                repo_name=repo, rel_path=rel, text=request.text, cursor=cursor, snippets=snippets,
                budget=budget, repo_budget=int(budget * cfg.repo_context_share),
            )

        if grow:
            return cursor, build(full)
        # Latency-targeted sizing: only the part of the prompt not already in the KV cache
        # costs; the full prompt goes whole once grown (assistant/growth.py).
        composing = self.context.can_compose()
        parts, budget = self.sizer.choose(
            self.backend, build, full, cfg.latency_target_s, expected_new,
            layout=(lambda p, cached, b: self.context.layout(p, cached, b, cfg.repo_context_share)) if composing else None,
            compose=self.context.compose if composing else None, grown=self.growth.status()["steps"],
        )
        if budget is not None:
            if not composing:
                self._hold = None  # the grown prompt is not what the cache holds: snippets may refresh
            parts.explain.insert(0, ExplainEntry("budget", "latency", f"prompt sized to {budget} new tokens for the "
                                                 f"{cfg.latency_target_s}s target: what growth cached, then the text nearest the cursor"
                                                 if composing and self.sizer.on_grown_start
                                                 else f"cold prompt sized to {budget} tokens for the {cfg.latency_target_s}s target"))
        return cursor, parts

    def _queue_growth(self, request: CompletionRequest) -> None:
        """Grow the full prompt for this cursor into the KV cache while no request waits."""
        if self.config.naive_layout:  # the comparison layout re-ranks every keystroke: nothing stays
            return
        self.scheduler.submit_background(
            "grow", lambda cancel: self._while_open(request.path, lambda: self._grow(request, cancel), "stopped"))

    def _grow(self, request: CompletionRequest, cancel: threading.Event) -> str:
        if not self._allowed(request.path, request.text)[0]:
            return "stopped"
        return self.growth.grow(self.backend, lambda: self._stable_full(request), cancel)

    def _stable_full(self, request: CompletionRequest) -> str:
        _, parts = self._prompt(request, max_new=self.config.max_tokens_multi, expected_new=0, grow=True)
        return parts.prompt[: parts.stable_len]

    def _prefill(self, request: CompletionRequest, cancel: threading.Event) -> int:
        _, parts = self._prompt(request, max_new=self.config.max_tokens_multi, expected_new=0)
        stable = parts.prompt[: parts.stable_len]
        if not stable:
            return 0
        n = self.backend.prefill(stable, cancel=cancel)
        self.sizer.last_prompt = stable
        return n

    def _publish_first_line(self, request: CompletionRequest, shown: Shown, t0: float) -> CompletionResult:
        """Cache a block's first line as partial (the block replaces it) and make its result."""
        cursor, before, after = self._windows(request)
        self.cache.put(str(request.path), before, after, CachedCompletion(shown.text, partial=True))
        return CompletionResult(
            items=[item_at(shown, cursor.line, cursor.col)], stop_reason="first_line",
            timings={"total_s": time.perf_counter() - t0},
            warnings=[cursor.warning] if cursor.warning else [], version=request.version,
        )

    def _run(self, request: CompletionRequest, cancel: threading.Event, first_line: Future | None = None) -> CompletionResult:
        cfg = self.config
        allowed, why = self._allowed(request.path, request.text)
        if not allowed:
            return CompletionResult(warnings=[refusal(request.path, why)], version=request.version)
        t0 = time.perf_counter()
        probe = clamp_cursor(request.text, request.line, request.col)
        pp_context = CompletionContext.from_prefix_suffix(
            request.text[: probe.offset], request.text[probe.offset :], path=request.path.name
        )
        mode = decide_line_mode(pp_context, ModeLimits(cfg.max_tokens_single, cfg.max_tokens_multi))
        pp_context = replace(pp_context, multiline=mode.multiline)  # decided once, here
        multiline, max_new, stops = mode.multiline, mode.max_tokens, mode.stop_texts
        cursor, parts = self._prompt(request, max_new=max_new, expected_new=self.latency.expected_output(max_new))
        t_ctx = time.perf_counter()
        steps: list[Step] | None = [] if request.explain else None
        n = max(1, request.candidates or cfg.candidates)
        candidates: list[tuple[Shown, float]] = []
        first = None
        stream = None
        if multiline and first_line is not None:
            stream = FirstLine(first_line, lambda text: shape_completion(text, pp_context),
                               lambda shown: self._publish_first_line(request, shown, t0), cancel)
        for i in range(n):
            if cancel.is_set():
                break
            result = self.backend.generate(
                GenerationRequest(
                    parts.prompt,
                    max_tokens=max_new,
                    stop_texts=stops,
                    time_limit_s=cfg.generation_time_cap_s,
                    prompt_time_limit_s=cfg.prompt_time_cap_s,
                    temperature=0.0 if i == 0 else 0.7,
                    seed=i,
                ),
                on_text=stream if i == 0 else None,
                cancel=cancel,
            )
            self.counters["model_calls"] += 1
            first = first or result
            self.sizer.observe(parts.prompt, result.prompt_tokens)
            self.latency.observe(result.evaluated_tokens, result.prompt_s, len(result.token_ids), result.gen_s,
                                 max_new=max_new if result.stop_reason != "cancelled" else None,
                                 total_s=time.perf_counter() - t0 if i == 0 and result.stop_reason != "cancelled" else None)
            text = result.text
            if result.stop_reason == "time" and multiline and "\n" in text:
                text = text[: text.rfind("\n")]  # the cap hit: keep the last complete line
            shown = shape_completion(text, pp_context, steps=steps if i == 0 else None)
            if shown.text.strip() and all(shown != c for c, _ in candidates):
                candidates.append((shown, result.mean_logprob))
        candidates, demoted = rank(request.path, request.text, probe.offset, candidates)
        if steps is not None:
            steps.extend(Step("syntax", t.text, t.text) for t in demoted)
        items = [item_at(s, cursor.line, cursor.col, lp) for s, lp in candidates]
        out = CompletionResult(
            items=items,
            prompt=parts.prompt,
            prompt_tokens=first.prompt_tokens if first else 0,
            evaluated_tokens=first.evaluated_tokens if first else 0,
            stop_reason=first.stop_reason if first else "cancelled",
            timings={
                "context_s": t_ctx - t0,
                "prompt_s": first.prompt_s if first else 0.0,
                "generate_s": first.gen_s if first else 0.0,
                "total_s": time.perf_counter() - t0,
            },
            warnings=[cursor.warning] if cursor.warning else [],
            explain=(parts.explain + filter_explain(steps or [])) if request.explain else [],
            version=request.version,
        )
        if first is not None:
            self.growth.note_prompt(first.prompt_tokens, full=not any(e.source == "latency" for e in parts.explain))
            if request.explain:
                out.explain.insert(0, ExplainEntry("budget", "growth", self.growth.explain(), first.prompt_tokens))
            if not cancel.is_set():
                self._queue_growth(request)  # the full prompt grows while the user reads or types
        finished = first is not None and first.stop_reason in ("eos", "stop_text", "length")
        _, before, after = self._windows(request)
        if (items or finished) and not cancel.is_set():
            # "nothing to suggest here" is cached too: greedy decoding would say it again
            texts = [i.text for i in items] or [""]
            self.cache.put(str(request.path), before, after, CachedCompletion(texts[0], tuple(texts[1:])))
        elif stream is not None and stream.shown is not None:  # the block was cut short:
            self.cache.discard_partial(str(request.path), before, after)  # asked again, it is written whole
        return out

    def status(self) -> dict:
        s = self.latency.speed
        return {
            "model": self.backend.name,
            "n_ctx": self.backend.n_ctx,
            "prompt_tokens_per_s": round(s.prompt_tps, 1),
            "generation_tokens_per_s": round(s.gen_tps, 1),
            "cache_entries": len(self.cache),
            "prompt": self.growth.status(),  # current prompt size and growth state
            **self.counters,
        }

