"""Next-edit suggestions end to end in a real Neovim (editors/nvim, lua/qwenpair/next_edit.lua):
the plugin, the real `qwenpair serve`, and a scripted GGUF in llama.cpp whose greedy answer
after the next-edit prompt is the updated window (tests/assistant/scripted_chat_model.py
spells it with distinct tokens).

The user renames a parameter on line 3; the server, after its edit pause, announces a next
edit (`qwenpair/nextEditReady`), the plugin asks for it and draws it on line 7: "rate" struck
through, the new line as a virtual line, a hint on the cursor's line. Esc drops it,
:QwenpairNextEdit asks again, Tab jumps there, Tab again applies it and asks for the next one
(there is none). On both Neovims (0.12 native inline completion, 0.11 extmarks).
Run: .venv/bin/pytest -q tests/e2e/test_nvim_next_edit.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from test_nvim_e2e import buffer_text, start_nvim, wait_for

pytestmark = pytest.mark.slow

BEFORE = '''# Prices in the shop.

def price(item, rate):
    if item.free:
        return {}
    base = item.cost + item.shipping()
    return base * rate
'''
# The window the scripted model writes: the whole (short) file, renamed. Every line but the
# last ends in different punctuation: a bigram chain can say it (scripted_chat_model.py).
WINDOW = BEFORE.replace("rate", "factor").rstrip("\n")
#: The server's settings for these tests: a short edit pause, and no time cap that a busy
#: machine could hit (a cut answer is no suggestion).
OPTIONS = {
    "next_edit": {"pause_ms": 300, "prompt_time_cap_s": 120.0, "generation_time_cap_s": 120.0},
    "engine": {"prompt_time_cap_s": 60.0, "generation_time_cap_s": 60.0, "latency_target_s": 60.0},
}

NEXT_EDIT_MARKS = """
local ns = vim.api.nvim_create_namespace('qwenpair.next_edit')
local out = {}
for _, m in ipairs(vim.api.nvim_buf_get_extmarks(0, ns, 0, -1, { details = true })) do
  local d = m[4]
  local mark = { row = m[2], col = m[3], end_row = d.end_row, end_col = d.end_col, hl = d.hl_group }
  if d.virt_lines then
    mark.lines = {}
    for _, vl in ipairs(d.virt_lines) do table.insert(mark.lines, vl[1][1]) end
  end
  if d.virt_text then mark.hint = d.virt_text[1][1] end
  table.insert(out, mark)
end
return out
"""


COUNT_ANSWERS = """
local method = ...
local key = 'qwenpair_answered:' .. method
_G[key] = 0
vim.api.nvim_create_autocmd('LspRequest', { callback = function(args)
  local r = args.data.request
  if r.method == method and r.type == 'complete' then
    _G[key] = _G[key] + 1
  end
end })
"""


def count_answers(vim, method: str):
    """From now on, how many ``method`` requests the server has answered: a function to ask."""
    vim.exec_lua(COUNT_ANSWERS, method)
    return lambda: vim.exec_lua("return _G[...]", "qwenpair_answered:" + method)


@pytest.fixture(scope="session")
def next_edit_model(tiny_model) -> Path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "assistant"))
    from scripted_chat_model import scripted_gguf

    from model.tokenizer import load_fast_tokenizer

    return scripted_gguf(tiny_model, WINDOW, after=load_fast_tokenizer().encode("updated/shop.py\n").ids[-1])


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """A folder holding shop.py; the server's cache (the suggestion store) is a scratch folder
    that shares the real one's vocabulary (the tokenizer is built from it)."""
    from model.paths import vocab_dir

    (tmp_path / ".git").mkdir()
    (tmp_path / "shop.py").write_text(BEFORE)
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "vocab").symlink_to(vocab_dir())
    monkeypatch.setenv("QWENPAIR_CONFIG", str(tmp_path / "no-config.toml"))
    monkeypatch.setenv("QWENPAIR_CACHE_DIR", str(cache))
    return tmp_path


def shown(vim) -> dict | None:
    return vim.exec_lua("return require('qwenpair.next_edit').current(0)")


def cursor(vim) -> list[int]:
    return list(vim.current.window.cursor)


@pytest.mark.parametrize("version", ["0.12", "0.11"])
def test_rename_on_line_3_then_tab_jumps_and_tab_accepts_line_7(workspace, next_edit_model, version):
    vim = start_nvim(workspace, next_edit_model, "auto", version=version, file="shop.py", options=OPTIONS)
    try:
        vim.command("normal! 3G0")
        vim.input("/rate<CR>cwfactor<Esc>")  # the rename, typed: one edit in the server's history
        wait_for("the rename", lambda: vim.current.buffer[2] == "def price(item, factor):", timeout=10)

        # The server's pause, its nextEditReady, the plugin's request: the edit on line 7.
        s = wait_for("the next edit", lambda: shown(vim), timeout=120)
        assert (s["start"], s["stop"]) == ([6, 0], [6, len("    return base * rate")])
        assert s["new_text"] == "    return base * factor" and s["id"]
        marks = vim.exec_lua(NEXT_EDIT_MARKS)
        struck = [m for m in marks if m.get("hl") == "QwenpairNextEditDelete"]
        assert [(m["row"], m["col"], m["end_row"], m["end_col"]) for m in struck] == [(6, 18, 6, 22)]  # "rate"
        assert [m["lines"] for m in marks if m.get("lines")] == [["    return base * factor"]]
        assert any(m["row"] == 2 and "next edit, line 7" in m["hint"] for m in marks if m.get("hint"))
        assert vim.current.buffer[6] == "    return base * rate" and cursor(vim)[0] == 3

        vim.input("<Esc>")  # dismissed: gone, the text as it was
        wait_for("the dismissal", lambda: not vim.exec_lua(NEXT_EDIT_MARKS), timeout=10)
        assert shown(vim) is None and vim.current.buffer[6] == "    return base * rate"
        vim.command("QwenpairNextEdit")  # asked for again, by hand
        wait_for("the next edit again", lambda: shown(vim), timeout=120)
        answered = count_answers(vim, "qwenpair/nextEdit")

        vim.input("<Tab>")  # jump
        wait_for("the jump to line 7", lambda: cursor(vim)[0] == 7, timeout=10)
        assert vim.current.buffer[6] == "    return base * rate" and shown(vim)

        vim.input("<Tab>")  # accept
        wait_for("the accepted edit", lambda: vim.current.buffer[6] == "    return base * factor", timeout=10)
        assert buffer_text(vim) == WINDOW
        assert vim.api.get_mode()["mode"] == "n"
        assert cursor(vim) == [7, len("    return base * ")]  # where the change starts
        # The chain: asked again at once, and nothing is left to suggest.
        wait_for("the next request", lambda: answered() > 0, timeout=60)
        assert not vim.exec_lua(NEXT_EDIT_MARKS) and shown(vim) is None
    finally:
        vim.close()
