"""The code actions offered on a selection: explain, fix, add docstring, generate tests.

Each is data: whether it answers in chat (text to read) or as an edit (a diff to review),
and the instruction it sends. "fix" quotes the diagnostics at the range; it is offered only
where there are some. The language server lists these as code actions and runs them with
``ChatEngine.ask`` or ``ChatEngine.edit``; the CLI can do the same with ``chat``/``edit -m``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class CodeAction:
    id: str  # stable: the command argument the server and editors use
    title: str  # shown in the editor's menu
    mode: Literal["chat", "edit"]
    instruction: str
    needs_diagnostics: bool = False


CODE_ACTIONS: tuple[CodeAction, ...] = (
    CodeAction(
        "explain", "Qwen: explain this code", "chat",
        "Explain what the selected code does: its purpose, its inputs and outputs, and anything "
        "surprising or risky in it.",
    ),
    CodeAction(
        "fix", "Qwen: fix the reported problems", "edit",
        "Fix the problems the editor's diagnostics report in these lines. Change nothing else.",
        needs_diagnostics=True,
    ),
    CodeAction(
        "docstring", "Qwen: add a docstring", "edit",
        "Add a docstring (or this language's doc comment) to each function, method or class "
        "defined in these lines, saying what it does, its parameters and what it returns. "
        "Do not change the code itself.",
    ),
    CodeAction(
        "tests", "Qwen: generate tests", "chat",
        "Write unit tests for the selected code, in the test framework this repository uses, "
        "as one code block that can be saved as a test file. Cover normal cases and edge cases.",
    ),
)


def code_action(action_id: str) -> CodeAction:
    """The action with this id; ``KeyError`` naming the known ones otherwise."""
    for action in CODE_ACTIONS:
        if action.id == action_id:
            return action
    raise KeyError(f"unknown code action {action_id!r}: use one of {', '.join(a.id for a in CODE_ACTIONS)}")


def actions_for(diagnostics: Sequence[str]) -> list[CodeAction]:
    """The actions to offer on a selection with these diagnostics."""
    return [a for a in CODE_ACTIONS if diagnostics or not a.needs_diagnostics]
