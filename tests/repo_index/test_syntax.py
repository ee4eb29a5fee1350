"""The tree-sitter parse check used to rank completion candidates and to warn on edits."""

import pytest

from repo_index import syntax_errors


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("a.py", "def f(x):\n    return x\n"),
        ("a.js", "function f() { return [1, 2]; }\n"),
        ("a.go", "package main\n\nfunc f() int { return 1 }\n"),
        ("a.rs", "fn f() -> i32 { 1 }\n"),
        ("", ""),
    ],
)
def test_valid_code_has_no_errors(path, text):
    assert syntax_errors(path or "empty.py", text) == 0


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("a.py", "def f(x:\n    return x\n"),
        ("a.js", "function f() { return [1, 2; }\n"),
        ("a.go", "package main\n\nfunc f() int { return 1\n"),
        ("a.rs", "fn f() -> i32 { 1 \n"),
    ],
)
def test_broken_code_counts_errors(path, text):
    assert syntax_errors(path, text) >= 1


def test_more_breakage_counts_more():
    one = "def f():\n    return (1\n\ndef g():\n    return 2\n"
    two = "def f():\n    return (1\n\ndef g(:\n    return 2\n\ndef h():\n    x = ]\n"
    assert syntax_errors("a.py", two) > syntax_errors("a.py", one) >= 1


def test_unknown_language_gives_no_judgement():
    assert syntax_errors("notes.txt", "((((") is None
    assert syntax_errors("Makefile", "all:\n\tcc x.c\n") is None


def test_windows_paths_and_odd_text_do_not_raise():
    assert syntax_errors("C:\\src\\a.py", "x = 1\n") == 0
    assert syntax_errors("a.py", "s = '\udc80'\n") is not None  # lone surrogate from a bad decode
