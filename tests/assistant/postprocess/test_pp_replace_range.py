"""The last step: the range of auto-closed characters after the cursor a completion replaces."""

import pytest
from pp_cursor import at

from assistant.postprocess.replace_range import Shown, closer_run, cover_closers

CASES = [
    # equal: the completion ends with the closers the editor inserted
    ("python", "foo(‸)", "a, b)", Shown("a, b)", 1)),
    ("python", 'print("‸")', 'hello")', Shown('hello")', 2)),
    ("python", "print('‸')", "it\\'s')", Shown("it\\'s')", 2)),
    ("javascript", "foo(‸);", "x);", Shown("x);", 2)),
    ("javascript", "const a = [‸];", "1, 2];", Shown("1, 2];", 2)),
    ("rust", "let v = vec![‸];", "1, 2];", Shown("1, 2];", 2)),
    ("c", 'printf("%d\\n", ‸);', "x);", Shown("x);", 2)),
    # a prefix of them: only that much is replaced
    ("python", 'print("‸")', 'hello"', Shown('hello"', 1)),
    ("python", "foo(bar(‸))", "x)", Shown("x)", 1)),
    ("javascript", "foo(‸);", "x)", Shown("x)", 1)),
    # extends them: the line's closers are replaced, the completion goes on
    ("javascript", "foo(‸)", "a, b);", Shown("a, b);", 1)),
    ("python", "foo(‸)", "a).strip()", Shown("a).strip()", 1)),
    ("python", "foo(bar(‸))", "x), y)", Shown("x), y)", 2)),
    ("python", "x = [foo(‸)", "a)]", Shown("a)]", 1)),
    ("python", "x = [foo(‸);", "a)];", Shown("a)];", 2)),
    # diverges: trimmed to the part that matches
    ("python", "foo(‸)}", "a)]", Shown("a)", 1)),
    # real text after the closers: scoped to the string or bracket the cursor is in
    ("rust", 'println!("{}‸", x);', ' items", x, y);', Shown(' items"', 1)),
    ("python", "x = [‸] + y", "1]", Shown("1]", 1)),
    # its own brackets and strings are not the line's
    ("python", "foo(‸)", "bar(x)", Shown("bar(x)")),
    ("python", 'x = "‸"', 'abc" + "def"', Shown('abc" + "def"', 1)),
    ("python", "foo(‸)", "a, b", Shown("a, b")),
    ("python", "foo(‸", "a, b)", Shown("a, b)")),  # nothing after the cursor
    ("python", "foo(‸)", "a]", Shown("a]")),  # closes something else: left alone
    # a multi-line block closes the brace the editor inserted
    ("javascript", "function f() {‸}", "\n  return 1;\n}", Shown("\n  return 1;\n}", 1)),
    ("javascript", "const o = {‸};", "\n  a: 1,\n};", Shown("\n  a: 1,\n};", 2)),
    # the rest of the cursor's string, reproduced before the completion's closing quote
    ("c", 'printf("a=%d ‸\\n", a);', 'b=%d\\n", a, b);', Shown('b=%d\\n"', 3)),
    ("javascript", "const m = `Hi ${‸}`;", "name}`;", Shown("name}`;", 3)),
    # an empty call after the brace is the line's own text: the item stops at its `}`
    ("go", "go func() {‸}()", "\n\twork()\n}()", Shown("\n\twork()\n}", 1)),
    # only the closers again: nothing new to show
    ("python", "foo(x‸)", ")", Shown("")),
]


@pytest.mark.parametrize("language,doc,raw,expected", CASES)
def test_cover_closers(language, doc, raw, expected):
    assert cover_closers(raw, at(doc, language)) == expected


def test_the_closer_run_is_closers_then_separators():
    assert closer_run('");  x') == '");'
    assert closer_run("), b") == "),"
    assert closer_run(" )") == ""
    assert closer_run("abc") == ""


def test_an_unterminated_string_is_not_a_closer():
    assert cover_closers("abc\ndef", at('x = "‸"', "python")) == Shown("abc\ndef")
