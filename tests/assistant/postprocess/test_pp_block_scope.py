"""Filter: trim a multi-line completion to the block it started in."""

from pp_cursor import at

from assistant.postprocess.block_scope import trim_to_block


def test_python_cut_at_the_dedent_to_the_next_definition():
    ctx = at("def add(a, b):‸\n")
    raw = "\n    s = a + b\n\n    return s\n\n\ndef sub(a, b):\n    return a - b\n"
    assert trim_to_block(raw, ctx) == "\n    s = a + b\n\n    return s\n\n"


def test_python_nested_blocks_stay():
    ctx = at("def f(xs):‸\n")
    raw = "\n    for x in xs:\n        if x:\n            yield x\n    return\nprint(1)"
    assert trim_to_block(raw, ctx) == "\n    for x in xs:\n        if x:\n            yield x\n    return"


def test_python_else_at_the_owner_width_leaves_the_block():
    ctx = at("def f(x):\n    if x:‸\n")
    assert trim_to_block("\n        a()\n    else:\n        b()", ctx) == "\n        a()"


def test_python_bracket_block_keeps_its_closing_line():
    ctx = at("x = foo(‸\n")
    assert trim_to_block("\n    a,\n    b,\n)\nprint(x)", ctx) == "\n    a,\n    b,\n)"


def test_a_line_that_closes_more_than_it_opened_ends_the_completion():
    ctx = at("x = foo(‸\n")
    assert trim_to_block("\n    a, b)\nprint(x)\n", ctx) == "\n    a, b)"


def test_docstring_lines_are_not_judged_by_their_indentation():
    ctx = at("def f():‸\n")
    raw = '\n    """Doc.\n\nmore\n    """\n    return 1\nx = 2'
    assert trim_to_block(raw, ctx) == '\n    """Doc.\n\nmore\n    """\n    return 1'


def test_blank_line_under_an_opener():
    ctx = at("def f():\n    ‸\n")
    assert trim_to_block("return 1\n\ndef g():\n    pass", ctx) == "return 1\n"


def test_blank_line_among_siblings_when_multiline_is_forced():
    ctx = at("def f():\n    x = 1\n    ‸\n", multiline=True)
    assert trim_to_block("y = 2\n    z = 3\nw = 4", ctx) == "y = 2\n    z = 3"


def test_js_keeps_the_closing_brace_and_drops_the_next_function():
    ctx = at("function add(a, b) {‸\n}\n", "javascript")
    raw = "\n  return a + b;\n}\n\nfunction sub(a, b) {\n  return a - b;\n}\n"
    assert trim_to_block(raw, ctx) == "\n  return a + b;\n}"


def test_js_closing_line_that_opens_a_new_block_keeps_only_its_closers():
    ctx = at("if (x) {‸\n}\n", "javascript")
    assert trim_to_block("\n  a();\n} else {\n  b();\n}", ctx) == "\n  a();\n}"
    ctx = at("foo(function () {‸\n});\n", "javascript")
    assert trim_to_block("\n  bar();\n});\nbaz();", ctx) == "\n  bar();\n});"


def test_brace_block_tolerates_lines_at_the_owner_width():
    ctx = at("switch (x) {‸\n}\n", "c")
    raw = "\ncase 1:\n\treturn 2;\ndefault:\n\treturn 0;\n}\nint y;"
    assert trim_to_block(raw, ctx) == "\ncase 1:\n\treturn 2;\ndefault:\n\treturn 0;\n}"


def test_brace_block_cut_when_dedented_below_its_owner():
    ctx = at("int f(void) {\n    if (x) {‸\n", "c")
    assert trim_to_block("\n        a();\nint g(void);", ctx) == "\n        a();"


def test_c_preprocessor_lines_ignore_indentation():
    ctx = at("int f(void) {\n    if (x) {‸\n", "c")
    raw = "\n#ifdef DEBUG\n        log();\n#endif\n        a();\n    }"
    assert trim_to_block(raw, ctx) == raw


def test_ruby_end_closes_the_block():
    ctx = at("def f\n  items.each do |x|‸\n", "ruby")
    assert trim_to_block("\n    puts x\n  end\nend\n", ctx) == "\n    puts x\n  end"


def test_single_line_requests_are_untouched():
    ctx = at("x = ‸")
    assert trim_to_block("1\ny = 2", ctx) == "1\ny = 2"


def test_a_first_line_that_closes_the_call_and_opens_a_block_goes_on_into_its_body():
    ctx = at("def fib(‸)\n")
    raw = "n):\n    return n\n\ndef main():\n    pass"
    assert trim_to_block(raw, ctx) == "n):\n    return n\n"
    ctx = at("int f(int x) {\n    if (‸)\n    return 0;\n}\n", "c")
    raw = "x < 0) {\n        return -1;\n    }\n    return 0;\n}"
    assert trim_to_block(raw, ctx) == "x < 0) {\n        return -1;\n    }"


def test_a_signature_gets_one_declaration_not_its_siblings():
    ctx = at("fn main()‸\n", "rust")
    raw = " {\n    run();\n}\n\nfn run() {\n}\n"
    assert trim_to_block(raw, ctx) == " {\n    run();\n}\n"


def test_a_blank_line_among_members_gets_one_member():
    ctx = at("class A {\n  x = 1;\n  ‸\n}\n", "typescript")
    raw = "get x2(): number {\n    return this.x * 2;\n  }\n\n  set x2(v: number) {\n    this.x = v / 2;\n  }"
    assert trim_to_block(raw, ctx) == "get x2(): number {\n    return this.x * 2;\n  }\n"


def test_a_blank_line_among_statements_keeps_further_statements():
    ctx = at("function f(xs) {\n  const n = 1;\n  ‸\n}\n", "javascript")
    raw = "if (n) {\n    g();\n  }\n  return xs;"
    assert trim_to_block(raw, ctx) == raw


def test_an_arrow_with_an_expression_body_ends_with_its_statement():
    ctx = at("const double = (x) =>‸\n", "javascript")
    assert trim_to_block(" x * 2;\n\nconst triple = (x) => x * 3;", ctx) == " x * 2;"
    # an expression that goes on over lines is not cut at its first line
    raw = " compute(\n  x,\n);\nconst y = 1;"
    assert trim_to_block(raw, ctx).startswith(" compute(\n  x,\n);")
