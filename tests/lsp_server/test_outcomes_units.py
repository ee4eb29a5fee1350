"""lsp_server/outcomes.py's pure parts: how models are named in the figures, item commands,
and a notification's params as pygls hands them over."""

from __future__ import annotations

from collections import namedtuple

from lsp_server.outcomes import _fields, _name, item_command


def test_models_are_named_without_paths_credentials_or_queries():
    assert _name("/home/me/models/qwen2.5-coder-1.5b-q8_0.gguf") == "qwen2.5-coder-1.5b-q8_0.gguf"
    assert _name("/home/me/lora/my-repo/") == "my-repo"
    assert _name("qwen2.5-coder-1.5b") == "qwen2.5-coder-1.5b"
    assert _name("http://user:secret@127.0.0.1:8080/v1?api_key=k") == "127.0.0.1:8080/v1"


def test_item_commands():
    assert item_command("abc", "fim_line") == {"title": "qwenpair", "command": "qwenpair.accepted",
                                               "arguments": [{"id": "abc", "kind": "fim_line"}]}
    assert item_command("abc", "next_edit")["command"] == "qwenpair.nextEdit"


def test_params_as_dicts_or_namedtuples():
    Params = namedtuple("Object", ["id", "outcome"])
    assert _fields(Params("x", "dismissed")) == {"id": "x", "outcome": "dismissed"}
    assert _fields({"id": "x"}) == {"id": "x"} and _fields(None) == {} and _fields(3) == {}
