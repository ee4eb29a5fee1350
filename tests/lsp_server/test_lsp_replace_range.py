"""An item that replaces the editor's auto-closed ``)`` travels through the real server.

The model is a scripted GGUF (``scripted_chat_model``: real llama.cpp, weights chosen so
that the greedy continuation of the prompt's last token is known): at ``print(‸)`` it
writes ``len(sys.argv))``. The prompt ends with the current line up to the cursor, written
after ``<|fim_middle|>`` (model/prompt.py, the cache-friendly layout), so the chain starts at
the last token of ``print(``. The server must answer an ``InlineCompletionItem`` whose range covers
the ``)`` after the cursor, so that applying it gives ``print(len(sys.argv))`` — and the
same edit for clients without inline completion (``textDocument/completion``).
"""

from __future__ import annotations

import sys
from pathlib import Path

from conftest import fast_options
from lsp_wire import default_capabilities

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "assistant"))
from scripted_chat_model import scripted_gguf  # noqa: E402

ANSWER = "len(sys.argv))"
DOCUMENT = "import sys\n\nprint()\n"
CURSOR = {"line": 2, "character": len("print(")}
REPLACED = {"start": CURSOR, "end": {"line": 2, "character": len("print()")}}


def _apply(text: str, new: str, rng: dict) -> str:
    lines = text.split("\n")
    line = lines[rng["start"]["line"]]
    lines[rng["start"]["line"]] = line[: rng["start"]["character"]] + new + line[rng["end"]["character"] :]
    return "\n".join(lines)


def _server(start, workspace: Path, tiny_model, capabilities=None):
    from model.tokenizer import load_fast_tokenizer

    model = scripted_gguf(tiny_model, ANSWER, after=load_fast_tokenizer().encode("print(").ids[-1])
    (workspace / "pkg" / "show.py").write_text(DOCUMENT)
    wire = start()
    wire.initialize(workspace, fast_options(model, engine={"max_tokens_single": 16, "max_tokens_multi": 16}),
                    capabilities)
    uri = wire.open(workspace / "pkg" / "show.py")
    wire.wait_ready()
    return wire, uri


def test_inline_item_replaces_the_auto_closed_paren(start, workspace, tiny_model):
    wire, uri = _server(start, workspace, tiny_model)
    result = wire.result("textDocument/inlineCompletion", {"textDocument": {"uri": uri}, "position": CURSOR,
                                                           "context": {"triggerKind": 1}})
    item = result["items"][0]
    assert item["insertText"] == ANSWER
    assert item["range"] == REPLACED
    assert _apply(DOCUMENT, item["insertText"], item["range"]) == "import sys\n\nprint(len(sys.argv))\n"
    # Asked again: a cache hit, with the same range (it is recomputed, not cached).
    again = wire.result("textDocument/inlineCompletion", {"textDocument": {"uri": uri}, "position": CURSOR,
                                                          "context": {"triggerKind": 1}})
    assert again["items"][0] == item
    assert wire.shutdown_and_exit() == 0


def test_completion_fallback_edits_the_same_range(start, workspace, tiny_model):
    caps = default_capabilities(textDocument={"completion": {"completionItem": {}}})
    wire, uri = _server(start, workspace, tiny_model, caps)
    result = wire.result("textDocument/completion", {"textDocument": {"uri": uri}, "position": CURSOR})
    edit = result["items"][0]["textEdit"]
    assert edit == {"range": REPLACED, "newText": ANSWER}
    assert wire.shutdown_and_exit() == 0
