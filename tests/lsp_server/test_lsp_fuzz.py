"""Property-based fuzzing of a real ``qwenpair serve`` (tiny model, short generations).

Hypothesis drives well over 1,000 random requests and edits — in and out of range
positions, surrogate halves, stale versions, unopened documents, unknown methods, wrong
params, random command arguments, cancellations — into one server. The property: the
server never crashes, every request is answered exactly once, and never with an internal
error (-32603).
"""

from __future__ import annotations

import time

from conftest import EMOJI_TEXT, fast_options
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

EXAMPLES = 70
MIN_OPS = 16

small = st.integers(min_value=0, max_value=8)
anyint = st.one_of(small, st.integers(min_value=0, max_value=2**31 - 1))
texts = st.one_of(st.sampled_from(["", "x", "\n", "🎉", "\ud83c", "name", "def f():\n    ", "\r\n"]),
                  st.text(max_size=12))
position = st.fixed_dictionaries({"line": anyint, "character": anyint})
span = st.fixed_dictionaries({"start": position, "end": position})
garbage = st.one_of(st.none(), st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=2),
                    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
doc = st.integers(min_value=0, max_value=2)


def _op():
    return st.one_of(
        st.tuples(st.just("change"), doc, span, texts, st.booleans()),
        st.tuples(st.just("full"), doc, texts),
        st.tuples(st.just("open"), doc, texts),
        st.tuples(st.just("close"), doc),
        st.tuples(st.just("inline"), doc, position),
        st.tuples(st.just("completion"), doc, position),
        st.tuples(st.just("action"), doc, span),
        st.tuples(st.just("command"), st.sampled_from(["qwenpair.status", "qwenpair.edit", "qwenpair.chat",
                                                       "qwenpair.switchModel", "qwenpair.nope"]), garbage),
        st.tuples(st.just("unknown"), garbage),
        st.tuples(st.just("badparams"), garbage),
        st.tuples(st.just("cancel"), st.integers(min_value=0, max_value=5)),
    )


def test_fuzz_every_request_answered_once_and_no_crash(start, workspace, tiny_model):
    wire = start()
    wire.initialize(workspace, fast_options(tiny_model.gguf,
                                            engine={"max_tokens_single": 4, "max_tokens_multi": 4},
                                            chat={"max_answer_tokens": 4}))
    wire.wait_ready()
    uris = [(workspace / "pkg" / f"fuzz{i}.py").as_uri() for i in range(3)]
    versions = [0, 0, 0]
    sent: list[int] = []
    total = [0]

    def run(op) -> None:
        kind = op[0]
        if kind == "change":
            _, d, rng, text, stale = op
            versions[d] += 1
            wire.notify("textDocument/didChange", {"textDocument": {"uri": uris[d], "version": 1 if stale else versions[d]},
                                                   "contentChanges": [{"range": rng, "text": text}]})
        elif kind == "full":
            versions[op[1]] += 1
            wire.notify("textDocument/didChange", {"textDocument": {"uri": uris[op[1]], "version": versions[op[1]]},
                                                   "contentChanges": [{"text": op[2]}]})
        elif kind == "open":
            versions[op[1]] += 1
            wire.notify("textDocument/didOpen", {"textDocument": {"uri": uris[op[1]], "languageId": "python",
                                                                  "version": versions[op[1]], "text": EMOJI_TEXT + op[2]}})
        elif kind == "close":
            wire.notify("textDocument/didClose", {"textDocument": {"uri": uris[op[1]]}})
        elif kind in ("inline", "completion"):
            method = "textDocument/inlineCompletion" if kind == "inline" else "textDocument/completion"
            params = {"textDocument": {"uri": uris[op[1]]}, "position": op[2]}
            if kind == "inline":
                params["context"] = {"triggerKind": 2}
            sent.append(wire.request(method, params))
        elif kind == "action":
            sent.append(wire.request("textDocument/codeAction", {"textDocument": {"uri": uris[op[1]]}, "range": op[2],
                                                                  "context": {"diagnostics": []}}))
        elif kind == "command":
            sent.append(wire.request("workspace/executeCommand", {"command": op[1], "arguments": [op[2]]}))
        elif kind == "unknown":
            sent.append(wire.request("qwenpair/fuzz", op[1]))
        elif kind == "badparams":
            sent.append(wire.request("textDocument/inlineCompletion", op[1]))
        elif kind == "cancel" and sent:
            wire.notify("$/cancelRequest", {"id": sent[-1 - min(op[1], len(sent) - 1)]})

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.lists(_op(), min_size=MIN_OPS, max_size=24))
    def check(ops) -> None:
        first = len(sent)
        for op in ops:
            run(op)
        total[0] += len(ops)
        for msg_id in sent[first:]:
            reply = wire.response(msg_id, timeout=60)
            assert reply.get("error", {}).get("code") != -32603, reply
        assert wire.process.poll() is None, wire.stderr.decode()[-3000:]

    check()
    time.sleep(0.5)
    assert total[0] >= 1000
    for msg_id in sent:
        assert len(wire.responses(msg_id)) == 1, msg_id
    assert wire.status()["open_documents"] <= 3
    assert wire.shutdown_and_exit() == 0
