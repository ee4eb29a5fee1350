"""The server's pure parts: position encodings, document sync, settings, command
arguments, code actions and the resynchronising reader."""

from __future__ import annotations

import asyncio
import json

import pytest
from lsprotocol import types

from lsp_server import code_actions, commands, settings
from lsp_server.documents import Change, DocumentError, DocumentStore
from lsp_server.positions import UTF8, UTF16, UTF32, from_col, to_col, to_line_col, to_position
from lsp_server.frames import BadFrame, FrameReader

LINE = 'a🎉b"é"'  # code points: a 🎉 b " é "


@pytest.mark.parametrize("encoding,units", [(UTF16, [0, 1, 3, 4, 5, 6, 7]), (UTF8, [0, 1, 5, 6, 7, 9, 10]),
                                            (UTF32, [0, 1, 2, 3, 4, 5, 6])])
def test_columns_round_trip_in_every_encoding(encoding, units):
    for col, unit in enumerate(units):
        assert from_col(LINE, col, encoding) == unit
        assert to_col(LINE, unit, encoding) == col


def test_inside_a_surrogate_pair_or_utf8_sequence_moves_to_the_character_start():
    assert to_col(LINE, 2, UTF16) == 1  # between the two halves of 🎉
    assert to_col(LINE, 3, UTF8) == 1 and to_col(LINE, 8, UTF8) == 4  # inside 🎉 / é


def test_out_of_range_positions_are_clamped():
    assert to_col(LINE, 999, UTF16) == len(LINE)
    assert to_line_col("ab\ncd", 7, 3, UTF16) == (1, 2)
    assert to_position("ab\ncd", 9, 9, UTF16) == (1, 2)


def test_incremental_full_and_refused_changes():
    store = DocumentStore(UTF16)
    store.open("u", "x = '🎉'\ny = 2\n", 1)
    doc, line = store.change("u", 2, [Change("!", (0, 7, 0, 7))])  # after the emoji: UTF-16 column 7
    assert doc.text == "x = '🎉!'\ny = 2\n" and line == 0
    doc, line = store.change("u", 3, [Change("z", (1, 0, 1, 1)), Change("only\n")])
    assert doc.text == "only\n" and line == 0 and doc.version == 3
    for bad in (lambda: store.change("u", 3, [Change("a")]),  # not newer
                lambda: store.change("nope", 9, [Change("a")]),  # never opened
                lambda: store.change("u", 9, [Change("a", (0, 3, 0, 1))])):  # end before start
        with pytest.raises(DocumentError):
            bad()
    assert store.get("u").text == "only\n"
    doc, _ = store.change("u", 10, [Change("!", (50, 0, 60, 0))])  # past the end: appended
    assert doc.text == "only\n!"


def test_settings_fall_back_per_key_with_a_message_naming_it():
    parsed, messages = settings.parse({"model": "", "n_ctx": 10, "threads": 2, "log_level": "loud",
                                       "engine": {"max_tokens_single": "x", "candidates": 2}, "nope": 1})
    assert parsed.threads == 2 and parsed.engine.candidates == 2
    assert parsed.model == "auto" and parsed.n_ctx == 4096 and parsed.engine.max_tokens_single == 48
    for key in ("'model'", "'n_ctx'", "'log_level'", "'max_tokens_single'", "'nope'"):
        assert any(key in m for m in messages), (key, messages)
    assert settings.parse([1])[1] and settings.parse(None) == (settings.ServerSettings(), [])
    merged = settings.merge({"model": "a", "engine": {"candidates": 2}}, {"engine": {"max_tokens_single": 9}})
    assert merged == {"model": "a", "engine": {"candidates": 2, "max_tokens_single": 9}}


def test_config_file_is_read_and_a_broken_one_is_reported(tmp_path, monkeypatch):
    path = tmp_path / "config.toml"
    path.write_text('model = "m.gguf"\n[engine]\nmax_tokens_single = 9\n')
    monkeypatch.setenv("QWENPAIR_CONFIG", str(path))
    assert settings.read_config_file() == ({"model": "m.gguf", "engine": {"max_tokens_single": 9}}, [])
    path.write_text("model = ")
    values, messages = settings.read_config_file()
    assert values == {} and str(path) in messages[0]


def test_command_arguments():
    rng = {"start": {"line": 1, "character": 0}, "end": {"line": 3, "character": 0}}
    chat = commands.chat_args([{"question": "why?", "uri": "file:///a.py", "range": rng, "streamId": "s",
                                "history": [{"role": "user", "content": "hi"}],
                                "diagnostics": [{"range": rng, "message": "bad", "severity": 1, "source": "ruff"}]}])
    assert chat.range == (1, 0, 3, 0) and chat.diagnostics == ("line 2: error: bad [ruff]",)
    assert commands.selection_lines((1, 0, 3, 0)) == (1, 3) and commands.selection_lines((1, 0, 3, 2)) == (1, 4)
    assert commands.selection_lines((2, 0, 2, 0)) == (2, 3)
    for bad in ([], [1], [{"question": 3}], [{"question": "q", "range": rng}], [{"question": "q", "history": [{"role": "x"}]}]):
        with pytest.raises(commands.BadArguments):
            commands.chat_args(bad)
    with pytest.raises(commands.BadArguments, match="instruction"):
        commands.edit_args([{"uri": "file:///a.py", "range": rng}])
    with pytest.raises(commands.BadArguments, match="before"):
        commands.edit_args([{"uri": "u", "instruction": "i", "range": {"start": {"line": 3, "character": 0}, "end": {"line": 1, "character": 0}}}])
    assert commands.switch_args([{"adapter": None}]) == {"adapter": None}


def test_code_actions_carry_commands_and_none_for_an_empty_selection():
    r = types.Range(start=types.Position(line=0, character=0), end=types.Position(line=2, character=0))
    diagnostic = types.Diagnostic(range=r, message="undefined name")
    actions = code_actions.code_actions("file:///a.py", r, 4, [diagnostic])
    by_title = {a.title: a for a in actions}
    assert by_title["qwenpair: Fix"].kind == types.CodeActionKind.QuickFix
    args = by_title["qwenpair: Fix"].command.arguments[0]
    assert args["diagnostics"][0]["message"] == "undefined name"  # listed once, by the prompt
    assert "undefined name" not in args["instruction"]
    assert by_title["qwenpair: Explain"].command.command == "qwenpair.chat"
    assert by_title["qwenpair: Edit selection…"].command.arguments[0] == {
        "uri": "file:///a.py", "version": 4,
        "range": {"start": {"line": 0, "character": 0}, "end": {"line": 2, "character": 0}}}
    assert "qwenpair: Fix" not in {a.title for a in code_actions.code_actions("file:///a.py", r, 4, [])}
    empty = types.Range(start=types.Position(line=1, character=2), end=types.Position(line=1, character=2))
    assert code_actions.code_actions("file:///a.py", empty, 4, []) == []


class _Bytes:
    def __init__(self, data: bytes) -> None:
        self.data = data

    async def read_some(self, n: int) -> bytes:
        out, self.data = self.data[:n], self.data[n:]
        return out


def _frame(obj, delta=0) -> bytes:
    body = json.dumps(obj).encode()
    return b"Content-Length: %d\r\n\r\n" % (len(body) + delta) + body


async def _bodies(reader: FrameReader, count: int) -> list[bytes]:
    out = []
    while len(out) < count:
        frame = await reader.next_frame()
        assert frame is not None, f"end of stream after {len(out)} bodies"
        out.append(frame.head if isinstance(frame, BadFrame) else frame)
    return out


def test_reader_resynchronises_after_a_wrong_content_length():
    good = {"id": 2}
    too_long = _frame({"id": 1}, delta=+30) + _frame(good)  # eats the next header and part of its body
    bodies = asyncio.run(_bodies(FrameReader(_Bytes(too_long).read_some), 2))
    assert json.loads(bodies[1]) == good  # the overlapped message is recovered whole
    too_short = _frame({"id": 1}, delta=-3) + _frame(good)
    bodies = asyncio.run(_bodies(FrameReader(_Bytes(too_short).read_some), 2))
    assert json.loads(bodies[1]) == good
    text = {"text": "Content-Length: 5 inside a document is kept"}
    assert json.loads(asyncio.run(_bodies(FrameReader(_Bytes(_frame(text)).read_some), 1))[0]) == text
