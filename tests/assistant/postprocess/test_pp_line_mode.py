"""The single/multi-line decision (before generation) and the single-line filter (after)."""

import pytest
from pp_cursor import at

from assistant.postprocess import ModeLimits, decide_line_mode
from assistant.postprocess.line_mode import keep_single_line

MULTI = [
    # the end of a line that opens a block: empty or not
    ("python", "def f():‸", "empty block"),
    ("python", "def f():‸\n\n\ndef g():\n    pass\n", "empty block"),
    ("python", "class A:\n    def f(self):‸\n\n    def g(self):\n        pass\n", "empty block"),
    ("python", "def f():  # todo‸\n", "empty block"),
    ("python", "x = foo(‸\n", "empty block"),
    ("javascript", "function f(a) {‸\n}\n", "empty block"),
    ("go", "func main() {‸\n}\n", "empty block"),
    ("rust", "fn main() {‸\n}\n", "empty block"),
    ("c", "int main(void) {‸\n}\n", "empty block"),
    ("ruby", "items.each do |x|‸\nend\n", "empty block"),
    ("python", "def f():‸\n    return 1\n", "with a body"),
    ("javascript", "if (x) {‸\n  a();\n}\n", "with a body"),
    ("typescript", "class A {\n  get foo(): number {‸\n    return 1;\n  }\n}\n", "with a body"),
    # closers the editor auto-closed are not text after the cursor
    ("python", "def fib(‸)\n", "opens a block"),
    ("python", "foo(‸)", "opens a block"),
    ("javascript", "const f = () => {‸};\n", "opens a block"),
    ("rust", "let v = vec![‸];\n", "opens a block"),
    ("go", "go func() {‸}()\n", "opens a block"),
    # a blank or whitespace-only line inside a block
    ("python", "def f():\n    ‸\n\ndef g():\n    pass\n", "under a block opener"),  # the editor indented it
    ("javascript", "function f(a) {\n  ‸\n}\n", "under a block opener"),
    ("python", "def f():\n    ‸\n    return 1\n", "under a block opener with a body"),
    ("python", "def f():\n    x = 1\n    ‸\n", "blank line inside a block"),
    ("java", "class A {\n    int x;\n    ‸\n}\n", "blank line inside a block"),
    # a signature whose body is missing
    ("python", "def f(x)‸\n", "signature"),
    ("rust", "pub fn new(x: u32) -> Self‸\n", "signature"),
    ("go", "func (s *S) Len() int‸\n", "signature"),
    ("typescript", "class A {\n  get foo(): number‸\n}\n", "signature"),
    ("java", "class A {\n    public int size()‸\n}\n", "signature"),
    ("c", "static int count(const char *s)‸\n", "signature"),
]

SINGLE = [
    ("python", "x = ‸  # set x", "mid-line"),
    ("python", "foo(‸, b)", "mid-line"),
    ("javascript", "if (‸ && ok) {", "mid-line"),
    ("python", "x = 1‸\n", "opens no block"),
    ("javascript", "const s = 'a {‸'", "opens no block"),  # in a string, before its closing quote
    ("python", "x = d[1:‸\n", "opens no block"),  # a slice, not a block
    ("python", "xs.sort(key=lambda x:‸\n", "opens no block"),
    ("python", 'x = """doc {‸\n', "opens no block"),  # inside a string
    ("c", "/* see {‸\n", "opens no block"),  # inside a comment
    ("python", "import os\n‸\n", "top level"),
    ("c", "    foo(x)‸\n", "opens no block"),  # a call statement is no signature
    ("java", "        return size()‸\n", "opens no block"),
    ("python", "def f():\n    return g(x)‸\n", "opens no block"),
]


@pytest.mark.parametrize("language,doc,reason", MULTI)
def test_multi_line(language, doc, reason):
    mode = decide_line_mode(at(doc, language))
    assert mode.multiline, mode.reason
    assert mode.stop_texts == ()
    assert reason in mode.reason


@pytest.mark.parametrize("language,doc,reason", SINGLE)
def test_single_line_elsewhere(language, doc, reason):
    mode = decide_line_mode(at(doc, language))
    assert not mode.multiline, mode.reason
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


@pytest.mark.parametrize(
    "language,doc",
    [
        ("python", '@app.route("/health")‸\n'),
        ("java", "class A {\n    @Override‸\n}\n"),
        ("kotlin", "class R {\n    fun find(id: Long): User?‸\n}\n"),
        ("swift", "struct S {\n    func area() -> Double‸\n}\n"),
    ],
)
def test_decorators_annotations_and_other_signatures_are_multi_line(language, doc):
    mode = decide_line_mode(at(doc, language))
    assert mode.multiline and "signature" in mode.reason
