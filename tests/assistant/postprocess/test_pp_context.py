"""CompletionContext: the cursor's line, the windows around it, language and indent unit."""

import ast
from pathlib import Path

from pp_cursor import at

from assistant.postprocess import CompletionContext, decide_line_mode, detect_indent_unit, language_from_path
from assistant.postprocess import context as context_module
from assistant.postprocess.languages import PLAIN, spec_for


def test_splits_the_current_line_and_windows():
    ctx = at("a\nb\nfoo(‸x)\nc\nd", language="python")
    assert ctx.line_prefix == "foo("
    assert ctx.line_suffix == "x)"
    assert ctx.prev_lines == ("a", "b")
    assert ctx.next_lines == ("c", "d")
    assert ctx.multiline is False


def test_first_and_last_line_and_empty_document():
    ctx = at("‸")
    assert (ctx.line_prefix, ctx.line_suffix, ctx.prev_lines, ctx.next_lines) == ("", "", (), ())
    ctx = at("\n‸\n")
    assert ctx.prev_lines == ("",)
    assert ctx.next_lines == ()


def test_windows_are_bounded():
    lines = [f"x{i}" for i in range(100)]
    ctx = at("\n".join(lines[:50]) + "\n‸\n" + "\n".join(lines[50:]), window=5)
    assert ctx.prev_lines == ("x45", "x46", "x47", "x48", "x49")
    assert ctx.next_lines == ("x50", "x51", "x52", "x53", "x54")


def test_crlf_line_ends_are_dropped():
    ctx = at("a\r\nb‸c\r\nd\r\n")
    assert ctx.prev_lines == ("a",)
    assert ctx.line_suffix == "c"
    assert ctx.next_lines == ("d", "")


def test_language_from_path_or_argument():
    prefix, suffix = "int main() {", "\n}"
    assert CompletionContext.from_prefix_suffix(prefix, suffix, path="src/main.c").language == "c"
    assert CompletionContext.from_prefix_suffix(prefix, suffix, path="a.c", language="cpp").language == "cpp"
    assert CompletionContext.from_prefix_suffix(prefix, suffix).language == PLAIN.name
    assert language_from_path("web/App.TSX") == "tsx"
    assert language_from_path("Makefile") == "text"
    assert spec_for("typescriptreact").name == "tsx"
    assert spec_for("no-such-language") is PLAIN


def test_multiline_is_decided_unless_given():
    assert at("def f():‸").multiline is True
    assert at("def f():‸", multiline=False).multiline is False
    assert at("x = 1‸", multiline=True).multiline is True


def test_detect_indent_unit():
    assert detect_indent_unit(("def f():", "\tif x:", "\t\treturn 1")) == "\t"
    assert detect_indent_unit(("function f() {", "  if (x) {", "    return 1;", "  }", "}")) == "  "
    assert detect_indent_unit(("class A:", "    def f(self):", "        pass")) == "    "
    assert detect_indent_unit(("x = 1", "y = 2"), "\t") == "\t"  # nothing to go on: the default
    assert detect_indent_unit(("/**", " * doc", " */", "int x;")) == "    "
    assert at("package main\n\nfunc f() {‸\n}", language="go").indent_unit == "\t"


def test_the_context_takes_the_line_mode_and_never_decides_it():
    # After `def f():` the policy asks for a block; the context only records the caller's
    # decision (the engine decides once, with its own limits: issue 21, no import circle).
    prefix, suffix = "def f():\n    ", "\n"
    assert decide_line_mode(CompletionContext.from_prefix_suffix(prefix, suffix, language="python")).multiline
    assert not CompletionContext.from_prefix_suffix(prefix, suffix, language="python").multiline
    assert CompletionContext.from_prefix_suffix(prefix, suffix, language="python", multiline=True).multiline
    tree = ast.parse(Path(context_module.__file__).read_text())
    imported = [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert not [m for m in imported if m and m.endswith("line_mode")], "context.py imports the line-mode policy"
