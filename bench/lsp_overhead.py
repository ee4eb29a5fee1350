"""What the language server adds to an inline completion: round trip minus the engine's time.

Starts a real ``qwenpair serve`` (stdio) and drives it with pygls' own LSP client: opens a
file of the sample repository, then types characters at the end of a line, asking for an
inline completion after every keystroke, as an editor does. For each request it takes the
client's round-trip time and the engine's own time for that request as the server measured
it (``qwenpair.status`` -> ``last_engine_ms``: from handing the request to the engine to its
result); their difference is the LSP overhead (JSON-RPC framing, decoding, position
conversion, scheduling on the event loop, encoding the answer, both pipes). In the same run
it times a request that does no work (``qwenpair.status``) as the transport's floor.

Prints JSON: overhead p50/p95 in ms (target p50 <= 5 ms), engine and round-trip medians,
the floor, and the ratio overhead / round trip.

    .venv/bin/python bench/lsp_overhead.py [--model PATH] [--keys 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import emit, median, percentile  # noqa: E402

SAMPLE = ROOT / "tests" / "data" / "sample_repo"
FILE = "geometry/shapes.py"


async def run(model: str, keys: int, threads: int) -> dict:
    from lsprotocol import types
    from pygls.lsp.client import LanguageClient

    client = LanguageClient("lsp-overhead-bench", "1")
    env = {**os.environ, "QWENPAIR_CONFIG": os.devnull}
    await client.start_io(sys.executable, "-m", "qwenpair", "serve", env=env)
    options = {"model": model, "chat_model": model, "threads": threads, "n_ctx": 2048,
               "log_file": str(Path(tempfile.gettempdir()) / "qwenpair-bench-server.log"),
               "engine": {"max_tokens_single": 8, "max_tokens_multi": 8}}
    await client.initialize_async(types.InitializeParams(
        capabilities=types.ClientCapabilities(text_document=types.TextDocumentClientCapabilities(
            inline_completion=types.InlineCompletionClientCapabilities())),
        root_uri=SAMPLE.as_uri(), initialization_options=options, process_id=os.getpid()))
    client.initialized(types.InitializedParams())

    async def status() -> dict:
        return await client.workspace_execute_command_async(types.ExecuteCommandParams(command="qwenpair.status"))

    while (s := await status())["model_state"] == "loading" or s["index"]["state"] == "indexing":
        await asyncio.sleep(0.2)
    if s["model_state"] != "ready":
        raise SystemExit(f"the model did not load: {s['model_problem']}")

    path = SAMPLE / FILE
    lines = path.read_text(encoding="utf-8").split("\n")
    line = next(i for i, text in enumerate(lines) if text.strip().startswith("return"))
    uri = path.as_uri()
    text = "\n".join(lines)
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)))

    rtts, engines, overheads, floors = [], [], [], []
    typed = "value + other * 2 - self.width"
    col = len(lines[line])
    for k in range(keys):
        char = typed[k % len(typed)]
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=k + 2),
            content_changes=[types.TextDocumentContentChangePartial(
                range=types.Range(start=types.Position(line=line, character=col),
                                  end=types.Position(line=line, character=col)), text=char)]))
        col += 1
        t0 = time.perf_counter()
        await client.text_document_inline_completion_async(types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=line, character=col),
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic)))
        rtt = 1000 * (time.perf_counter() - t0)
        t0 = time.perf_counter()
        engine_ms = (await status())["last_engine_ms"]
        floors.append(1000 * (time.perf_counter() - t0))
        rtts.append(rtt)
        engines.append(engine_ms)
        overheads.append(rtt - engine_ms)
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return {"rtt": rtts, "engine": engines, "overhead": overheads, "floor": floors}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help=".gguf to serve (default: the tiny test model)")
    parser.add_argument("--keys", type=int, default=200, help="keystrokes, one inline completion each")
    parser.add_argument("--threads", type=int, default=1,
                        help="model threads (default 1: on a 2-core machine the other core is the server's)")
    args = parser.parse_args()
    if args.model is None:
        from model.make_test import cached_test_model

        args.model = str(cached_test_model("tiny").gguf)
    r = asyncio.run(run(args.model, args.keys, args.threads))
    p50 = median(r["overhead"])
    emit([
        {"figure": "inline completion LSP overhead p50 (round trip - engine time)", "value": round(p50, 2),
         "unit": "ms", "target": "<= 5 ms", "meets_target": p50 <= 5.0},
        {"figure": "inline completion LSP overhead p95", "value": round(percentile(r["overhead"], 95), 2), "unit": "ms"},
        {"figure": "inline completion round trip p50", "value": round(median(r["rtt"]), 2), "unit": "ms"},
        {"figure": "engine time p50 (server-measured)", "value": round(median(r["engine"]), 2), "unit": "ms"},
        {"figure": "no-op request round trip p50 (qwenpair.status: the transport floor)",
         "value": round(median(r["floor"]), 2), "unit": "ms"},
        {"figure": "overhead / round trip (p50s, same run)", "value": round(p50 / median(r["rtt"]), 3), "unit": "ratio"},
    ], model=args.model, keystrokes=args.keys, threads=args.threads, client="pygls LanguageClient over stdio")


if __name__ == "__main__":
    main()
