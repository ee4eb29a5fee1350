"""The bracket-and-string scanner: strings, comments and char literals do not count."""

from assistant.postprocess.languages import spec_for
from assistant.postprocess.lexer import ScanState, code_of, scan, string_at_end, string_end

PY, C, JS, GO, RUST = (spec_for(x) for x in ("python", "c", "javascript", "go", "rust"))


def test_balanced_and_excess_closers():
    assert scan("foo(a, [b])", PY).state.stack == []
    result = scan("a, b))", PY)
    assert result.excess == [4, 5]
    assert scan("foo(bar[", PY).state.stack == ["(", "["]


def test_brackets_in_strings_and_comments_do_not_count():
    assert scan('x = "(" + y', PY).state.stack == []
    assert scan("x = '['", PY).state.stack == []
    result = scan("x(  # (", PY)
    assert result.state.stack == ["("]
    assert result.comment_at == 4
    assert scan("/* ( */ )", C).excess == [8]
    assert scan("f( // )", JS).state.stack == ["("]


def test_escapes_inside_strings():
    assert scan(r'"a\"(" )', C).excess == [7]
    assert scan(r"'\'' (", C).state.stack == ["("]


def test_python_triple_quotes_span_lines_and_single_quotes_end_at_the_newline():
    doc = scan('"""doc (\nmore )\n"""', PY)
    assert doc.state.stack == [] and doc.state.quote is None and doc.excess == []
    assert scan('"""open (', PY).state.quote == '"""'
    assert scan('"abc\n(', C).state.stack == ["("]


def test_go_raw_strings_and_runes():
    assert scan("`a (\nb`", GO).state == ScanState()
    assert scan("c := '('", GO).state.stack == []


def test_rust_lifetimes_are_not_quotes_but_char_literals_are_skipped():
    result = scan("fn f<'a>(x: &'a str) -> char { '(' }", RUST)
    assert result.state.stack == [] and result.excess == []
    assert scan(r"let c = '\''; (", RUST).state.stack == ["("]


def test_mismatched_closer_resynchronises_on_its_opener():
    assert scan("([)", C).state.stack == []
    assert scan("(]", C).state.stack == ["("]  # a stray `]` closes nothing


def test_scan_continues_from_a_state():
    state = scan('print("abc', PY).state
    assert state == ScanState(["("], '"')
    assert scan('def")', PY, state).state == ScanState()
    # from inside a string alone, the `)` closes something opened before the text
    assert scan('def")', PY, ScanState(quote='"')).excess == [4]


def test_helpers():
    assert code_of("def f():  # todo", PY) == "def f():"
    assert code_of('x = "# not a comment"', PY) == 'x = "# not a comment"'
    assert string_at_end('print("hel', PY) == '"'
    assert string_at_end('print("hello")', PY) is None
    assert string_end('abc") + 1', '"', PY) == 4
    assert string_end("abc", '"', PY) == -1
