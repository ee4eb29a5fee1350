"""Filter: reconcile closing brackets and quotes with what is already after the cursor."""

import pytest
from pp_cursor import at

from assistant.postprocess.closing_brackets import reconcile_closers

CASES = [
    ("python", "foo(‸)", "a, b)", "a, b"),
    ("python", "foo(‸)", "bar(x)", "bar(x)"),  # its own bracket: needed
    ("python", "foo(‸)", "bar(x))", "bar(x)"),
    ("python", "foo(bar(‸)", "x))", "x)"),  # only as much as the line already has
    ("python", 'print("‸")', 'hello")', "hello"),
    ("python", "print('‸')", "it\\'s')", "it\\'s"),
    ("python", 'x = "‸"', 'abc" + "def"', 'abc" + "def"'),  # the last quote closes its own string
    ("javascript", "foo(‸);", "x);", "x"),
    ("javascript", "const a = [‸];", "1, 2];", "1, 2"),
    ("javascript", "const o = {‸};", " a: 1 };", " a: 1 "),
    ("go", "fmt.Println(‸)", '"hi")', '"hi"'),
    ("rust", "let v = vec![‸];", "1, 2];", "1, 2"),
    ("c", 'printf("%d\\n", ‸);', "x);", "x"),
    ("python", "foo(‸)", "a, b", "a, b"),  # nothing to reconcile
    ("python", "foo(‸", "a, b)", "a, b)"),  # nothing after the cursor
    ("python", "x = [‸] + y", "1]", "1"),
]


@pytest.mark.parametrize("language,doc,raw,expected", CASES)
def test_reconcile(language, doc, raw, expected):
    assert reconcile_closers(raw, at(doc, language)) == expected


def test_a_quote_that_would_open_a_string_stays():
    assert reconcile_closers("x, '", at("f(‸')", "python")) == "x, '"
