"""Does this text parse? A tree-sitter check for completions and edits.

``syntax_errors(path, text)`` counts the ERROR and MISSING nodes tree-sitter finds when it
parses ``text`` as the language of ``path``; ``None`` means the language is unknown (plain
text), so no judgement. The completion engine ranks candidates by "parses no worse than
without it"; the edit command warns when an edit adds errors.
"""

from __future__ import annotations

from pathlib import PurePath

from repo_index.languages import language_for, parser_for

#: Stop counting here: more errors than this means "badly broken" either way.
ERROR_CAP = 1000


def syntax_errors(path: str | PurePath, text: str) -> int | None:
    """ERROR and MISSING nodes in ``text`` parsed as ``path``'s language (None: unknown)."""
    spec = language_for(str(path).replace("\\", "/"))
    if spec is None:
        return None
    tree = parser_for(spec.grammar).parse(text.encode("utf-8", errors="surrogatepass"))
    root = tree.root_node
    if not root.has_error:
        return 0
    count = 0
    cursor = root.walk()
    descend = True
    while count < ERROR_CAP:
        node = cursor.node
        if descend and (node.is_error or node.is_missing):
            count += 1
            descend = False  # an ERROR subtree counts once
        if descend and node.has_error and cursor.goto_first_child():
            continue
        descend = True
        if cursor.goto_next_sibling():
            continue
        while True:
            if not cursor.goto_parent():
                return count
            if cursor.goto_next_sibling():
                break
    return count
