"""Filter: tabs vs spaces to the file's indent unit; the first line is never re-indented."""

from pp_cursor import at

from assistant.postprocess.indentation import normalise_indentation


def test_spaces_become_tabs_in_a_tab_file():
    ctx = at("func f() {\n\tif x {‸\n\t}\n}\n", "go")
    assert ctx.indent_unit == "\t"
    out = normalise_indentation("  \n        return 1\n    }", ctx)
    assert out == "  \n\t\treturn 1\n\t}"


def test_two_space_steps_are_recognised():
    ctx = at("func f() {‸\n}\n", "go", indent_unit="\t")
    assert normalise_indentation("\n  a()\n    b()", ctx) == "\n\ta()\n\t\tb()"


def test_tabs_become_the_file_unit():
    ctx = at("def f():‸\n", indent_unit="    ")
    assert normalise_indentation("\n\tif x:\n\t\treturn 1", ctx) == "\n    if x:\n        return 1"
    ctx = at("function f() {‸\n}", "javascript", indent_unit="  ")
    assert normalise_indentation("\n\treturn 1;", ctx) == "\n  return 1;"


def test_alignment_spaces_after_the_levels_are_kept():
    ctx = at("func f() {‸\n}\n", "go", indent_unit="\t")
    assert normalise_indentation("\n    x := g(a,\n           b)", ctx) == "\n\tx := g(a,\n\t\t   b)"


def test_first_line_and_string_contents_are_left_alone():
    ctx = at("def f():‸\n", indent_unit="    ")
    # lines 3 and 4 start inside the docstring: their tabs are its content
    raw = '\t\n\tx = """\n\tkeep\n\t"""\n\treturn x'
    assert normalise_indentation(raw, ctx) == '\t\n    x = """\n\tkeep\n\t"""\n    return x'


def test_unchanged_when_already_in_the_file_style():
    ctx = at("def f():‸\n")
    text = "\n    return 1"
    assert normalise_indentation(text, ctx) is text
    assert normalise_indentation("x\ty", ctx) == "x\ty"
