"""Arguments of the ``workspace/executeCommand`` commands, checked at the boundary.

Each parser takes the raw ``arguments`` array and returns a typed value, or raises
``BadArguments`` with a message that says what was expected (the server answers
InvalidParams, -32602). The names and shapes are the contract in docs/lsp.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from model.prompt import ChatMessage

STATUS = "qwenpair.status"
REINDEX = "qwenpair.reindex"
SWITCH_MODEL = "qwenpair.switchModel"
CHAT = "qwenpair.chat"
EDIT = "qwenpair.edit"

ALL = (STATUS, REINDEX, SWITCH_MODEL, CHAT, EDIT)

_SEVERITY = {1: "error", 2: "warning", 3: "information", 4: "hint"}


class BadArguments(Exception):
    """Command arguments that do not have the documented shape."""


Span = tuple[int, int, int, int]  # start line, start character, end line, end character (client units)


@dataclass(frozen=True)
class ChatArgs:
    question: str
    uri: str | None = None
    range: Span | None = None
    history: tuple[ChatMessage, ...] = ()
    diagnostics: tuple[str, ...] = ()
    stream_id: str | None = None


@dataclass(frozen=True)
class EditArgs:
    uri: str
    range: Span
    instruction: str
    version: int | None = None
    diagnostics: tuple[str, ...] = ()
    stream_id: str | None = None


def _object(command: str, args: list[Any] | None) -> dict[str, Any]:
    if not args or not isinstance(args[0], dict):
        raise BadArguments(f"{command} takes one object argument, e.g. [{{...}}]; see docs/lsp.md")
    return args[0]


def _str(obj: dict[str, Any], key: str, command: str, *, required: bool = False) -> str | None:
    value = obj.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise BadArguments(f"{command}: {key!r} must be a string")
    return value


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def parse_range(value: Any, command: str) -> Span:
    try:
        start, end = value["start"], value["end"]
        span = (start["line"], start["character"], end["line"], end["character"])
    except (TypeError, KeyError):
        raise BadArguments(f"{command}: 'range' must be an LSP Range {{start: {{line, character}}, end: {{...}}}}") from None
    if not all(_int(v) for v in span):
        raise BadArguments(f"{command}: range positions must be non-negative integers")
    if span[2:] < span[:2]:
        raise BadArguments(f"{command}: the range ends before it starts")
    return span  # type: ignore[return-value]


def diagnostic_text(value: Any) -> str:
    """One editor diagnostic as a line of the prompt ("line 3: error: ...")."""
    if not isinstance(value, dict) or not isinstance(value.get("message"), str):
        raise BadArguments("a diagnostic must be an object with a 'message'")
    line = value.get("range", {}).get("start", {}).get("line") if isinstance(value.get("range"), dict) else None
    where = f"line {line + 1}: " if _int(line) else ""
    severity = _SEVERITY.get(value.get("severity"), "")
    source = f" [{value['source']}]" if isinstance(value.get("source"), str) else ""
    return f"{where}{severity + ': ' if severity else ''}{value['message']}{source}"


def _diagnostics(obj: dict[str, Any], command: str) -> tuple[str, ...]:
    values = obj.get("diagnostics") or []
    if not isinstance(values, list):
        raise BadArguments(f"{command}: 'diagnostics' must be a list of LSP Diagnostics")
    return tuple(diagnostic_text(d) for d in values)


def chat_args(args: list[Any] | None) -> ChatArgs:
    obj = _object(CHAT, args)
    question = _str(obj, "question", CHAT, required=True) or ""
    history = obj.get("history") or []
    if not isinstance(history, list) or not all(
        isinstance(h, dict) and h.get("role") in ("user", "assistant") and isinstance(h.get("content"), str) for h in history
    ):
        raise BadArguments(f"{CHAT}: 'history' must be a list of {{role: user|assistant, content: str}}")
    span = parse_range(obj["range"], CHAT) if obj.get("range") is not None else None
    uri = _str(obj, "uri", CHAT)
    if span is not None and uri is None:
        raise BadArguments(f"{CHAT}: a 'range' needs the 'uri' of its document")
    return ChatArgs(question, uri, span, tuple(ChatMessage(h["role"], h["content"]) for h in history),
                    _diagnostics(obj, CHAT), _str(obj, "streamId", CHAT))


def edit_args(args: list[Any] | None) -> EditArgs:
    obj = _object(EDIT, args)
    uri = _str(obj, "uri", EDIT, required=True) or ""
    if "range" not in obj:
        raise BadArguments(f"{EDIT}: 'range' (the lines to rewrite) is required")
    instruction = _str(obj, "instruction", EDIT)
    if not instruction or not instruction.strip():
        raise BadArguments(f"{EDIT}: 'instruction' is required: ask the user what to change")
    version = obj.get("version")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        raise BadArguments(f"{EDIT}: 'version' must be an integer")
    return EditArgs(uri, parse_range(obj["range"], EDIT), instruction, version, _diagnostics(obj, EDIT),
                    _str(obj, "streamId", EDIT))


def switch_args(args: list[Any] | None) -> dict[str, Any]:
    obj = _object(SWITCH_MODEL, args)
    unknown = set(obj) - {"model", "chat_model", "adapter"}
    if unknown:
        raise BadArguments(f"{SWITCH_MODEL}: unknown keys {sorted(unknown)}; use model, chat_model, adapter")
    for key in ("model", "chat_model"):
        if key in obj and (not isinstance(obj[key], str) or not obj[key].strip()):
            raise BadArguments(f"{SWITCH_MODEL}: {key!r} must be a model name or path")
    if "adapter" in obj and obj["adapter"] is not None and not isinstance(obj["adapter"], str):
        raise BadArguments(f"{SWITCH_MODEL}: 'adapter' must be a path or null")
    return dict(obj)


def selection_lines(span: Span) -> tuple[int, int]:
    """Lines [start, end) a Range covers: an end at character 0 leaves its line out."""
    start, end = span[0], span[2] + (1 if span[3] > 0 else 0)
    return start, max(end, start + 1)
