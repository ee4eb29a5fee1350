"""How the extmark ghost text draws an item whose range replaces closers after the cursor
(``qwenpair.text.ghost_line``), run inside a real headless Neovim: the line must read as it
will after accepting, with no closer shown twice. Accepting is proven end to end in
tests/e2e/test_nvim_e2e.py (test_an_item_that_replaces_the_auto_closed_paren)."""

from __future__ import annotations

import pytest
from test_nvim_plugin import lua, nvim  # noqa: F401  (the fixture)


def shown(line: str, col: int, first: str, replaced: str) -> str:
    """The cursor line as drawn: ``first`` (the ghost's first line) at ``col``."""
    return line[:col] + first + line[col:]


@pytest.mark.parametrize(
    ("line", "col", "first", "replaced", "expected_text", "expected_pos"),
    [
        ("print()", 6, "len(sys.argv))", ")", "len(sys.argv)", "inline"),  # the buffer's ) ends it
        ("f(a, [])", 6, "1])", "])", "1", "inline"),
        ("x = 1", 5, " + 2", "", " + 2", "inline"),  # no range: as it is
        ("call()", 5, "", ")", " ", "overlay"),  # a block whose first line is empty covers the )
        ("if (x) {}", 8, "return;", "}", "return;", "overlay"),  # the closer moves to a later line
    ],
)
def test_ghost_line(nvim, line, col, first, replaced, expected_text, expected_pos):  # noqa: F811
    text, pos = lua(nvim, "return { require('qwenpair.text').ghost_line(...) }", first, replaced, line[col:])
    assert (text, pos) == (expected_text, expected_pos)
    if pos == "inline" and replaced:
        assert shown(line, col, text, replaced) == line[:col] + first + line[col + len(replaced):]
