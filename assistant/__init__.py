"""The engine: turns a cursor into a completion (context -> prompt -> model -> filters),
plus chat and edit. Imports model/ and repo_index/; knows nothing of LSP (lsp_server/ and the
CLI drive it, training/ uses ``session``). The path of one completion is docs/design.md §2.

Modules, from a request inwards::

    session.py        the one factory: index + retriever + prompt policy + engine, and
                      their shutdown order (CLI, server and training share it)
    request.py        CompletionRequest / CompletionResult and friends: plain data
    config.py         EngineConfig: every tunable of completion, with its default
    settings_convert.py  the one converter from untrusted settings to typed frozen configs
    engine.py         the completion engine: cache -> scheduler -> context -> backend
                      -> post-processing -> cache; streamed multi-line suggestions
    ranking.py        candidates into items: shown text, ranking, the filters' explanation
    scheduler.py      one generation per model; the newest request per document wins
    load_wait.py      requests that arrive while the model loads wait for it, up to a cap
    cache.py          LRU of results plus typed-ahead consumption
    latency.py        measured prompt/generation speed -> the prompt budget of a cold request
    context.py        the context builder: which snippets and which part of the file go
                      into the FIM prompt, stable-first, under the budget
    context_pack.py   packing cross-file snippets into the prompt, by value per token
    growth.py         progressive context: the prompt grows to the full budget in the background
    open_documents.py the open or recently edited documents kept for cross-file context
    retrieval.py      the bridge to repo_index: the workspace retriever and PromptPolicy
    document.py       positions: 0-based line and character column, clamped with a warning
    large_document.py documents over the size cap: a window of lines around the cursor
    streaming.py      a multi-line suggestion's first line, handed over while the block goes on
    postprocess/      the filter chain from raw model output to the shown item, one filter
                      per file (see postprocess/__init__.py), and the line mode
    chat.py           ChatEngine: ask and edit with the instruct model, streamed, cancellable
    chat_prompt.py    what goes into a chat or edit prompt, in what order, under a budget
    chat_format.py    a conversation as prompt text (the GGUF's template, else ChatML)
    chat_errors.py    the errors chat and edit raise, each saying what to do
    edit.py           an edit proposal (diff) from an instruction; written only on request
    edit_parse.py     an instruct model's answer -> the new text of the region
    edit_history.py   the recent edits of open documents, for next-edit suggestions
    next_edit.py      next-edit suggestions: the rewrite of the window at the cursor
    next_edit_eval.py their evaluation on a repository's git history (``qwenpair eval nes``)
    outcomes.py       the local record of how suggestions fared (SQLite under the cache
                      dir), its settings and preference pairs (docs/stats.md)
    outcomes_tracker.py  typed over, ignored, retained characters and undo, inferred from
                      the document's changes
    outcomes_report.py   the figures of ``qwenpair stats`` and ``qwenpair.status``

Stop tokens and stop texts: the engine only chooses them (the model's stop set, and the
line mode's extra stop strings, ``postprocess/line_mode.py``); they are applied in one place,
``model.backends.base.stream_tokens``, the token loop every backend feeds. Control-token
text that still leaks into an answer is cut by ``model.tokens.cut_at_leaked_token``
(``postprocess/leaked_tokens.py`` for completions, ``chat.py`` and ``edit_parse.py`` for
answers).
"""
