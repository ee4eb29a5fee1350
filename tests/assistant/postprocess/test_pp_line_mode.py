"""The single/multi-line decision (before generation) and the single-line filter (after)."""

import pytest
from pp_cursor import at

from assistant.postprocess import ModeLimits, decide_line_mode
from assistant.postprocess.line_mode import keep_single_line

MULTI = [
    ("python", "def f():‸"),
    ("python", "def f():‸\n\n\ndef g():\n    pass\n"),
    ("python", "class A:\n    def f(self):‸\n\n    def g(self):\n        pass\n"),
    ("python", "def f():  # todo‸\n"),
    ("python", "def f():\n    ‸\n\ndef g():\n    pass\n"),  # the editor indented the new line
    ("python", "x = foo(‸\n"),
    ("javascript", "function f(a) {‸\n}\n"),
    ("javascript", "function f(a) {\n  ‸\n}\n"),
    ("go", "func main() {‸\n}\n"),
    ("rust", "fn main() {‸\n}\n"),
    ("c", "int main(void) {‸\n}\n"),
    ("ruby", "items.each do |x|‸\nend\n"),
]

SINGLE = [
    ("python", "foo(‸)", "mid-line"),
    ("python", "x = ‸  # set x", "mid-line"),
    ("python", "x = 1‸\n", "opens no block"),
    ("python", "def f():‸\n    return 1\n", "already has a body"),
    ("python", "def f():\n    ‸\n    return 1\n", "already has a body"),
    ("python", "def f():\n    x = 1\n    ‸\n", "opens no block"),
    ("javascript", "if (x) {‸\n  a();\n}\n", "already has a body"),
    ("javascript", "const s = 'a {‸'", "mid-line"),
    ("python", "x = d[1:‸\n", "opens no block"),  # a slice, not a block
    ("python", "xs.sort(key=lambda x:‸\n", "opens no block"),
    ("python", 'x = """doc {‸\n', "opens no block"),  # inside a string
    ("c", "/* see {‸\n", "opens no block"),  # inside a comment
]


@pytest.mark.parametrize("language,doc", MULTI)
def test_multi_line_at_an_empty_block(language, doc):
    mode = decide_line_mode(at(doc, language))
    assert mode.multiline, mode.reason
    assert mode.stop_texts == ()
    assert "empty block" in mode.reason


@pytest.mark.parametrize("language,doc,reason", SINGLE)
def test_single_line_elsewhere(language, doc, reason):
    mode = decide_line_mode(at(doc, language))
    assert not mode.multiline
    assert mode.stop_texts == ("\n",)
    assert reason in mode.reason


def test_a_string_ending_in_an_opener_does_not_open_a_block():
    assert not decide_line_mode(at("x = 'ends with {'‸", "javascript")).multiline


def test_limits_are_configurable():
    limits = ModeLimits(single_max_tokens=10, multi_max_tokens=99)
    assert decide_line_mode(at("x = ‸"), limits).max_tokens == 10
    assert decide_line_mode(at("def f():‸"), limits).max_tokens == 99


def test_keep_single_line_truncates_only_single_line_requests():
    assert keep_single_line("a + b\nc = 1\n", at("x = ‸")) == "a + b"
    assert keep_single_line("a + b\r\nc", at("x = ‸")) == "a + b"
    assert keep_single_line("\n    return 1\n", at("def f():‸")) == "\n    return 1\n"
