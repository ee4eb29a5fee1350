"""Tree-sitter where the lexer cannot tell: a snippet's brackets, and the cursor's scope.

What it is:

- ``snippet_structure(text, language)`` parses only the completion (a few hundred bytes,
  about 0.1 ms) and reports the closers that close brackets opened before it, and the lines
  that start inside a string or comment. The block-scope filter calls it only when
  ``lexer.scan`` reports a misread (a regex literal, a raw string, an f-string's nested
  quotes), so the keystroke path normally never parses for it.
- ``cursor_scope(before, after, language)`` parses the window of lines around the cursor
  and says whether the cursor sits among *members* (a class, impl, interface or object
  body, or the top level: each declaration there is a sibling of the next) or among
  *statements* (a function or block body). The block-scope filter asks only for a
  multi-line completion that has written one whole declaration and goes on, so that it can
  stop before the next sibling member.

Parsers are created on first use, a few languages at most.

What it is not: the whole-file "does it still parse" check of candidates; that belongs to the
candidate ranker. A snippet parsed out of context has ERROR nodes by nature (a body without
its function, a stray ``}``); only its tokens are used, and tree-sitter tokenises strings,
comments and regexes correctly even inside ERROR nodes.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, NamedTuple

#: Completions longer than this are not parsed on the keystroke path.
MAX_SNIPPET_CHARS = 4096

_MATCHING = {")": "(", "]": "[", "}": "{"}
#: Tokens that open a brace: ``${`` (JS templates) and ``#{`` (Ruby, Elixir) close with ``}``.
_OPENER_TOKENS = {"(": "(", "[": "[", "{": "{", "${": "{", "#{": "{"}
_SPANNING = ("string", "comment", "template", "heredoc", "raw")


class SnippetStructure(NamedTuple):
    excess: list[int]  # character offsets of closers that close brackets opened before the snippet
    inside: frozenset[int]  # 0-based lines that start inside a string or comment


@lru_cache(maxsize=4)
def _parser(language: str) -> Any:
    try:
        from tree_sitter_language_pack import get_parser

        return get_parser(language)  # type: ignore[arg-type]
    except Exception:  # no grammar for this id (LookupError), or the package is missing
        return None


#: Nodes whose children are declarations (siblings of each other), per tree-sitter's grammars
#: for Python, JS/TS, Go, Rust, Java, C/C++ and Ruby; the file's root is one too.
_MEMBER_NODES = frozenset({
    "module", "program", "source_file", "translation_unit", "compilation_unit",
    "class_body", "interface_body", "enum_body", "object", "object_type",
    "declaration_list", "field_declaration_list", "class", "module_body", "singleton_class",
})  # fmt: skip
#: Nodes whose children are statements.
_STATEMENT_NODES = frozenset({
    "block", "statement_block", "compound_statement", "constructor_body", "method", "singleton_method",
    "do_block", "block_body", "function_body", "lambda", "arrow_function", "if", "while", "for", "case",
    "begin", "switch_body", "match_block", "closure_expression",
})  # fmt: skip


def cursor_scope(before: str, after: str, language: str) -> str | None:
    """``"members"``, ``"statements"``, or None (no grammar, or the window is too long)."""
    if len(before) + len(after) > 8 * MAX_SNIPPET_CHARS:
        return None
    parser = _parser(language)
    if parser is None:
        return None
    head = before.encode("utf-8", "surrogatepass")
    tree = parser.parse(head + after.encode("utf-8", "surrogatepass"))
    node = tree.root_node.descendant_for_byte_range(len(head), len(head))
    while node is not None:
        kind = node.type
        if kind in ("block", "body_statement") and node.parent is not None:
            # Python's class body and Ruby's class body are the same node kinds as a
            # function's: the owner decides.
            owner = node.parent.type
            if owner in ("class_definition", "class", "module", "singleton_class"):
                return "members"
            if kind == "block" or owner in ("method", "singleton_method", "do_block", "block"):
                return "statements"
        elif kind in _MEMBER_NODES and node.start_byte < len(head) or node.parent is None:
            return "members"
        elif kind in _STATEMENT_NODES and node.start_byte < len(head):
            return "statements"
        node = node.parent
    return None


def snippet_structure(text: str, language: str) -> SnippetStructure | None:
    """The structure of ``text`` per tree-sitter, or None (no grammar, too long)."""
    if len(text) > MAX_SNIPPET_CHARS:
        return None
    parser = _parser(language)
    if parser is None:
        return None
    data = text.encode("utf-8", "surrogatepass")
    tree = parser.parse(data)
    stack: list[str] = []
    excess_bytes: list[int] = []
    inside: set[int] = set()
    cursor = tree.walk()
    while True:
        node = cursor.node
        kind = node.type
        if node.child_count == 0 and not node.is_missing:
            if kind in _OPENER_TOKENS:
                stack.append(_OPENER_TOKENS[kind])
            elif kind in _MATCHING:
                if stack and stack[-1] == _MATCHING[kind]:
                    stack.pop()
                elif not stack:
                    excess_bytes.append(node.start_byte)
        elif node.start_point[0] < node.end_point[0] and any(s in kind for s in _SPANNING):
            inside.update(range(node.start_point[0] + 1, node.end_point[0] + 1))
        if cursor.goto_first_child() or cursor.goto_next_sibling():
            continue
        while cursor.goto_parent():
            if cursor.goto_next_sibling():
                break
        else:
            break
    if text.isascii():
        excess = excess_bytes
    else:
        excess = [len(data[:b].decode("utf-8", "surrogatepass")) for b in excess_bytes]
    return SnippetStructure(excess, frozenset(inside))
