"""One converter for settings dataclasses: untrusted keys in, a typed frozen config out, and a
message for each key that fell back to its default.

``EngineConfig``, ``ChatConfig`` and the server's ``ServerSettings`` all go through
``from_mapping``. What a field accepts comes from its type (``int``, ``float``, ``bool``,
``str``, ``X | None``, a nested settings dataclass as a table) and from ``setting(...)``
metadata: bounds (``min``, ``max``), ``choices``, ``nonempty`` and the words that describe the
expected value. A new field is converted by its type with no code to add; nothing switches on
field names. ``docs/configuration.md``'s tables are these fields (``doc_table``), checked by
tests/assistant/test_settings_convert.py.

Values are parsed strictly, by cattrs with our own hooks: cattrs's defaults take
``bool("false")`` as True and ``int(2.7)`` as 2. Accepted: for ``bool`` true/false or the
strings true, false, yes, no, 1, 0; for ``int`` an integer or a string of digits; for
``float`` a finite number or a string of one; for ``str`` a string; for ``X | None`` also
null, and "" (none). Keys may use "-" for "_". Messages name the key and what was expected
(docs/configuration.md): ``setting 'threads' = 'many' is invalid (expected an integer); using 0``.

What it is not: a reader of TOML or editor options (``lsp_server.settings`` reads and merges
them) and not a place for settings that no user sets (``repo_index.config.IndexConfig``).
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import json
import math
import textwrap
import types
import typing
from dataclasses import MISSING, field, fields
from typing import Any, TypeVar

import cattrs

T = TypeVar("T")
_ABSENT = object()


def setting(
    default: Any = MISSING,
    *,
    default_factory: Any = MISSING,
    min: float | None = None,
    max: float | None = None,
    choices: tuple[str, ...] = (),
    nonempty: bool = False,
    expected: str = "",
) -> Any:
    """A dataclass field with conversion rules: ``min``/``max`` bounds for numbers, ``choices``
    for strings (matched ignoring case, kept lower-case), ``nonempty`` (a string is stripped and
    must not be empty) and ``expected``, the words for what is accepted ("a path")."""
    meta = {"min": min, "max": max, "choices": choices, "nonempty": nonempty, "expected": expected}
    return field(default=default, default_factory=default_factory, metadata={"setting": meta})


class Invalid(ValueError):
    """A value a field cannot take; the message is the reason shown to the user."""


def _rules(f: dataclasses.Field) -> dict[str, Any]:
    return f.metadata.get("setting", {})


def _strict(kind: type, reason: str):
    def hook(value: Any, _kind: Any) -> Any:
        if kind is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in ("true", "false", "yes", "no", "1", "0"):
                return value.strip().lower() in ("true", "yes", "1")
        elif kind is int:
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().removeprefix("-").isdigit():
                return int(value)
        elif kind is float:
            number = value
            if isinstance(value, str):
                try:
                    number = float(value)
                except ValueError:
                    number = None
            if isinstance(number, (int, float)) and not isinstance(number, bool) and math.isfinite(number):
                return float(number)
        elif isinstance(value, str):
            return value
        raise Invalid(f"expected {reason}")

    return hook


_REASONS = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
_converter = cattrs.Converter()
for _kind, _reason in _REASONS.items():
    _converter.register_structure_hook(_kind, _strict(_kind, _reason))


def _optional(hint: Any) -> Any | None:
    """X for ``X | None``, else None."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(hint)) == 2:
            return args[0]
    return None


def expected(f: dataclasses.Field, hint: Any) -> str:
    """What ``f`` accepts, in words ("an integer", "a path or null")."""
    rules = _rules(f)
    if rules.get("expected"):
        return rules["expected"]
    if rules.get("choices"):
        return "one of " + ", ".join(rules["choices"])
    if rules.get("nonempty"):
        return "a non-empty string"
    inner = _optional(hint)
    if inner is not None:
        return f"{_REASONS.get(inner, inner.__name__)} or null"
    return _REASONS.get(hint, getattr(hint, "__name__", str(hint)))


def convert(f: dataclasses.Field, hint: Any, value: Any) -> Any:
    """``value`` as field ``f`` (of type ``hint``) takes it; ``Invalid`` says why not."""
    rules = _rules(f)
    inner = _optional(hint)
    if inner is not None and (value is None or value == ""):
        return None
    try:
        out = _converter.structure(value, inner or hint)
    except Invalid:
        raise Invalid(f"expected {expected(f, hint)}") from None
    except (cattrs.BaseValidationError, ValueError, TypeError) as exc:
        raise Invalid(f"expected {expected(f, hint)}") from exc
    if isinstance(out, str):
        if rules.get("nonempty"):
            out = out.strip()
            if not out:
                raise Invalid(f"expected {expected(f, hint)}")
        if rules.get("choices"):
            if out.lower() not in rules["choices"]:
                raise Invalid(f"expected {expected(f, hint)}")
            out = out.lower()
    low, high = rules.get("min"), rules.get("max")
    if low is not None and out < low:
        raise Invalid("must not be negative" if low == 0 else f"must be at least {low}")
    if high is not None and out > high:
        raise Invalid(f"must be at most {high}")
    return out


def from_mapping(cls: type[T], values: dict[str, Any] | None) -> tuple[T, list[str]]:
    """An instance of the settings dataclass ``cls`` from untrusted ``values``. Each key that is
    unknown or invalid keeps its default and yields one message naming it; a nested settings
    table's messages start with its name ("engine: ...")."""
    messages: list[str] = []
    base = cls()
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in (values or {}).items():
        name = str(key).replace("-", "_")
        f = known.get(name)
        if f is None:
            messages.append(f"unknown setting {key!r} ignored")
            continue
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            if not isinstance(value, dict):
                messages.append(f"setting {name!r} must be a table of {name} settings; using defaults")
                continue
            kwargs[name], notes = from_mapping(hint, value)
            messages.extend(f"{name}: {m}" for m in notes)
            continue
        try:
            kwargs[name] = convert(f, hint, value)
        except Invalid as why:
            messages.append(f"setting {key!r} = {value!r} is invalid ({why}); using {getattr(base, name)!r}")
    return dataclasses.replace(base, **kwargs), messages


# -- the documentation tables -------------------------------------------------------------------
def field_docs(cls: type) -> dict[str, str]:
    """Each field's docstring (the string literal under it in the class body), as one line."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs: dict[str, str] = {}
    for node, after in zip(body, body[1:]):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and isinstance(after, ast.Expr):
            if isinstance(after.value, ast.Constant) and isinstance(after.value.value, str):
                docs[node.target.id] = " ".join(after.value.value.split()).replace("``", "`")
    return docs


def _type_words(f: dataclasses.Field, hint: Any) -> str:
    inner = _optional(hint)
    words = {bool: "true/false", int: "integer", float: "number", str: "string"}
    return f"{words[inner]} or null" if inner is not None else words.get(hint, str(hint))


def _allowed(f: dataclasses.Field) -> str:
    rules = _rules(f)
    if rules.get("choices"):
        return ", ".join(f"`{c}`" for c in rules["choices"])
    low, high = rules.get("min"), rules.get("max")
    if low is not None and high is not None:
        return f"{low} to {high}"
    if low is not None:
        return f"at least {low}"
    if high is not None:
        return f"at most {high}"
    return "not empty" if rules.get("nonempty") else ""


def _default(f: dataclasses.Field) -> Any:
    return f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]


def doc_table(cls: type) -> str:
    """The markdown table of ``cls``'s settings (nested tables left out): key, type, default,
    allowed values and the field's docstring. docs/configuration.md holds these tables."""
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    rows = ["| key | type | default | allowed | meaning |", "|---|---|---|---|---|"]
    for f in fields(cls):
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):
            continue
        default = json.dumps(_default(f))
        meaning = docs.get(f.name, "").replace("|", "\\|")  # a "|" would end the cell
        rows.append(f"| `{f.name}` | {_type_words(f, hint)} | `{default}` | {_allowed(f)} | {meaning} |")
    return "\n".join(rows) + "\n"
