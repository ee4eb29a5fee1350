"""Code actions on a selection: each one is a Command the client executes (edit or chat).

The server never computes anything here: the actions only carry the arguments the
``qwenpair.edit`` and ``qwenpair.chat`` commands take (docs/lsp.md). "Edit selection…" has
no instruction, so the client asks the user for one.
"""

from __future__ import annotations

from typing import Any

from lsprotocol import types

EDIT = "qwenpair.edit"
CHAT = "qwenpair.chat"

EXPLAIN_QUESTION = "Explain what the selected code does."
TESTS_QUESTION = "Write unit tests for the selected code, in the style of the project's existing tests."
DOCSTRING_INSTRUCTION = "Add a docstring (or doc comment) to the selected code; change nothing else."


def _range(r: types.Range) -> dict[str, Any]:
    return {"start": {"line": r.start.line, "character": r.start.character},
            "end": {"line": r.end.line, "character": r.end.character}}


def _diagnostic(d: types.Diagnostic) -> dict[str, Any]:
    out: dict[str, Any] = {"range": _range(d.range), "message": d.message}
    if d.severity is not None:
        out["severity"] = int(d.severity)
    if d.source:
        out["source"] = d.source
    return out


#: The diagnostics travel beside the instruction and the prompt lists them, so the instruction
#: does not repeat them.
FIX_INSTRUCTION = "Fix the problems the editor reports in the selected code."


def code_actions(uri: str, selection: types.Range, version: int | None,
                 diagnostics: list[types.Diagnostic]) -> list[types.CodeAction]:
    """The qwenpair actions for ``selection`` (an empty selection gets none)."""
    if (selection.start.line, selection.start.character) >= (selection.end.line, selection.end.character):
        return []
    where: dict[str, Any] = {"uri": uri, "range": _range(selection)}
    if version is not None:
        where["version"] = version

    def action(title: str, kind: str | None, command: str, args: dict[str, Any],
               diags: list[types.Diagnostic] | None = None) -> types.CodeAction:
        return types.CodeAction(title=title, kind=kind, diagnostics=diags or None,
                                command=types.Command(title=title, command=command, arguments=[args]))

    actions = [
        action("qwenpair: Edit selection…", types.CodeActionKind.RefactorRewrite, EDIT, dict(where)),
        action("qwenpair: Explain", None, CHAT, {**where, "question": EXPLAIN_QUESTION}),
    ]
    if diagnostics:
        actions.append(action("qwenpair: Fix", types.CodeActionKind.QuickFix, EDIT,
                              {**where, "instruction": FIX_INSTRUCTION,
                               "diagnostics": [_diagnostic(d) for d in diagnostics]}, diagnostics))
    actions.append(action("qwenpair: Add docstring", types.CodeActionKind.RefactorRewrite, EDIT,
                          {**where, "instruction": DOCSTRING_INSTRUCTION}))
    actions.append(action("qwenpair: Generate tests", None, CHAT,
                          {**where, "question": TESTS_QUESTION}))
    return actions
