"""Filter: drop text that repeats the rest of the line or the next lines."""

from pp_cursor import at

from assistant.postprocess.suffix_repeat import drop_suffix_repetition


def test_cut_where_the_next_lines_are_regenerated():
    ctx = at("def f(x):\n    y = x * 2‸\n    z = y + 1\n    return z\n", multiline=True)
    assert drop_suffix_repetition("\n    w = y - 1\n    z = y + 1\n    return z", ctx) == "\n    w = y - 1"


def test_duplicated_closing_line_is_dropped():
    ctx = at("function f() {‸\n}\n", "javascript")
    assert drop_suffix_repetition("\n  return 1;\n}", ctx) == "\n  return 1;"


def test_one_common_line_followed_by_new_code_is_not_a_repetition():
    ctx = at("function f() {‸\n}", "javascript")
    text = "\n  if (x) {\n    a();\n  }\n  b();"
    ctx2 = at("if (x) {‸\n  }\n  c();\n}\n", "javascript", multiline=True)
    assert drop_suffix_repetition(text, ctx) == text
    assert drop_suffix_repetition("\n    a();\n  }\n  b();", ctx2) == "\n    a();\n  }\n  b();"


def test_the_first_line_counts_only_on_a_blank_line():
    assert drop_suffix_repetition("return x", at("def f(x):\n    ‸\n    return x\n")) == ""
    assert drop_suffix_repetition("urn x", at("def f(x):\n    ret‸\n    return x\n")) == "urn x"


def test_repeated_rest_of_the_line_is_dropped():
    assert drop_suffix_repetition("bar() + foo()", at("x = ‸foo()")) == "bar() + "
    assert drop_suffix_repetition("foo()", at("x = ‸foo()")) == ""
    assert drop_suffix_repetition("a, b)", at("f(‸b)")) == "a, "


def test_an_ending_the_completion_needs_stays():
    assert drop_suffix_repetition("g(a, b)", at("f(‸b)")) == "g(a, b)"
    assert drop_suffix_repetition('"x", b', at("f(‸b")) == '"x", '


def test_closer_only_suffixes_are_left_to_replace_range():
    assert drop_suffix_repetition("bar()", at("foo(‸)")) == "bar()"


def test_a_closing_line_repeats_only_a_closing_line_at_its_width():
    doc = "for (;;) {\n    if (x) {‸\n}\nreturn 0;\n"
    ctx = at(doc, "c", multiline=True)
    assert drop_suffix_repetition("\n        a();\n    }", ctx) == "\n        a();\n    }"  # the `if`'s
    ctx = at("if (x) {‸\n}\n", "c")
    assert drop_suffix_repetition("\n    a();\n}", ctx) == "\n    a();"  # the one below


def test_the_line_closing_the_cursors_own_closer_is_no_repetition():
    ctx = at("func f() Config {\n\treturn Config{‸}\n}\n", "go")
    assert drop_suffix_repetition("\n\t\tA: 1,\n\t}", ctx) == "\n\t\tA: 1,\n\t}"


def test_the_rest_of_the_line_goes_with_the_space_before_it():
    ctx = at("if (‸ && ok) {", "javascript")
    assert drop_suffix_repetition('x === "a" && ok) {', ctx) == 'x === "a"'
    # the cursor's own string: the ending that closes it is the line's, not the completion's
    ctx = at('printf("a=%d ‸\\n", a, b);', "c")
    assert drop_suffix_repetition('b=%d\\n", a, b);', ctx) == "b=%d"
