"""Follow-up chat turns: prompt tokens re-evaluated and time to the first token (issue 7).

A chat about a selection sends the repository snippets and the file around it with the
first question. ``ChatAnswer.sent`` (the user turn as sent) goes back into the history, so a
follow-up about the same code refers to that context instead of sending it again, and the
whole first turn is served from llama.cpp's KV cache. The comparison, in the same run and on
the same warm cache: a client that keeps only the bare questions in its history, so the
context is sent again at the end of every follow-up.

Runs ChatEngine with the 0.5B-shaped Q8_0 model on CPU (random weights: speed depends on
shape, not weights), retrieval from this repository's index, greedy, a few answer tokens.

    .venv/bin/python bench/chat_followup.py [--root DIR --file REL --lines 120-160] [--threads 2]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import emit  # noqa: E402

QUESTIONS = ("What does the selected code do?", "Which inputs make it fail?", "How would you test it?")


def conversation(chat, path: Path, text: str, selection: tuple[int, int], keep_context: bool) -> list[dict]:
    """Ask QUESTIONS in order from a cold cache; one row per turn."""
    from model.prompt import ChatMessage

    chat.backend.reset_cache()
    history: list[ChatMessage] = []
    rows = []
    for turn, question in enumerate(QUESTIONS, 1):
        answer = chat.ask(question, history=history, path=path, text=text, selection=selection)
        rows.append({"turn": turn, "prompt_tokens": answer.prompt_tokens, "evaluated_tokens": answer.evaluated_tokens,
                     "prompt_s": round(answer.prompt_s, 3)})
        history += [ChatMessage("user", answer.sent if keep_context else question),
                    ChatMessage("assistant", answer.text)]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=ROOT)
    parser.add_argument("--file", default="assistant/engine.py")
    parser.add_argument("--lines", default="120-160", help="1-based inclusive selection")
    parser.add_argument("--shape", default="0.5b")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    from assistant.chat import ChatEngine
    from assistant.chat_prompt import ChatConfig
    from assistant.retrieval import PromptPolicy, workspace_retriever
    from model.loader import BackendConfig, load_backend
    from model.make_test import cached_test_model

    model = cached_test_model(args.shape)
    gguf = model.root / f"qwenpair-test-{args.shape}-q8_0.gguf"
    backend = load_backend(BackendConfig(model=str(gguf), n_ctx=8192, n_threads=args.threads))
    retriever, close = workspace_retriever(args.root)
    path = (args.root / args.file).resolve()
    start, end = (int(x) for x in args.lines.split("-"))
    chat = ChatEngine(backend, workspace_root=args.root, retriever=retriever, path_policy=PromptPolicy(args.root),
                      config=ChatConfig(max_answer_tokens=8, history_tokens=6000))
    text = path.read_text()
    try:
        ours = conversation(chat, path, text, (start - 1, end), keep_context=True)
        bare = conversation(chat, path, text, (start - 1, end), keep_context=False)
    finally:
        close()
        backend.close()
    follow_ours = [r for r in ours if r["turn"] > 1]
    follow_bare = [r for r in bare if r["turn"] > 1]
    evaluated = (sum(r["evaluated_tokens"] for r in follow_ours), sum(r["evaluated_tokens"] for r in follow_bare))
    seconds = (sum(r["prompt_s"] for r in follow_ours), sum(r["prompt_s"] for r in follow_bare))
    emit(
        [
            {"figure": "prompt tokens evaluated in follow-up turns", "unit": "tokens",
             "ours": evaluated[0], "bare_history": evaluated[1], "ratio_bare_over_ours": round(evaluated[1] / max(1, evaluated[0]), 2)},
            {"figure": "prompt evaluation time of follow-up turns", "unit": "s",
             "ours": round(seconds[0], 2), "bare_history": round(seconds[1], 2),
             "ratio_bare_over_ours": round(seconds[1] / max(1e-9, seconds[0]), 2)},
        ],
        benchmark="chat_followup", model=gguf.name, threads=args.threads, file=f"{args.file}:{args.lines}",
        turns={"ours": ours, "bare_history": bare},
    )


if __name__ == "__main__":
    main()
