"""Tree-sitter fallback: bracket structure of a snippet, used only when the lexer misread it."""

from pp_cursor import at

from assistant.postprocess import syntax
from assistant.postprocess.block_scope import trim_to_block
from assistant.postprocess.languages import spec_for
from assistant.postprocess.lexer import scan
from assistant.postprocess.syntax import snippet_structure


def test_excess_closers_skip_regexes_strings_and_templates():
    s = snippet_structure("\n  const re = /'(/;\n  return re;\n}\n\nfunction g() {}", "javascript")
    assert s.excess == [33]
    s = snippet_structure("\n  x = `a ${b} c\n  d`;\n}", "javascript")
    assert s.excess == [23]  # `${` opens what its `}` closes
    assert s.inside == {2}  # the template literal spans into line 2


def test_lines_inside_multiline_strings():
    s = snippet_structure('\n    x = """doc\n  (\n"""\n)', "python")
    assert s.inside == {2, 3}
    assert s.excess == [24]


def test_offsets_are_characters_not_bytes():
    assert snippet_structure("é = 1)", "python").excess == [5]


def test_no_grammar_or_too_long_gives_none():
    assert snippet_structure("x)", "no-such-language") is None
    assert snippet_structure("x" * (syntax.MAX_SNIPPET_CHARS + 1), "python") is None


def test_lexer_reports_a_misread_and_block_scope_asks_tree_sitter():
    js = spec_for("javascript")
    line = "  return s.replace(/'/g, \"\\\\'\");"
    assert scan(line + "\n", js).misread
    ctx = at("function f(s) {‸\n}\n", "javascript")
    raw = f"\n{line}\n}}\n\nfunction g() {{\n  return 1;\n}}"
    assert trim_to_block(raw, ctx) == f"\n{line}\n}}"


def test_tree_sitter_is_not_used_when_the_lexer_is_sure(monkeypatch):
    def fail(*args):
        raise AssertionError("parsed")

    monkeypatch.setattr("assistant.postprocess.block_scope.snippet_structure", fail)
    ctx = at("function f() {‸\n}\n", "javascript")
    assert trim_to_block("\n  return 'a(';\n}\nfunction g() {}", ctx) == "\n  return 'a(';\n}"


def test_cursor_scope_tells_members_from_statements():
    from assistant.postprocess.syntax import cursor_scope

    assert cursor_scope("class A:\n    def f(self):\n        pass\n\n    ", "\n", "python") == "members"
    assert cursor_scope("def f():\n    x = 1\n    ", "\n    return x\n", "python") == "statements"
    assert cursor_scope("public class P {\n    int x;\n    ", "\n}\n", "java") == "members"
    assert cursor_scope("class G {\n  void g() {\n    ", "\n  }\n}\n", "java") == "statements"
    assert cursor_scope("impl C {\n    ", "\n}\n", "rust") == "members"
    assert cursor_scope("class Cart\n  def add\n    ", "\n  end\nend\n", "ruby") == "statements"
    assert cursor_scope("x = 1\n", "", "no-such-language") is None
