"""Golden files: compare a textual artifact with its file, or rewrite the file on request.

The one write-then-compare helper every golden test uses (prompts, extraction, retrieval,
post-processing cases, chat prompts). What it is not: a renderer; each test turns its
artifact into text first.

- ``QWENPAIR_UPDATE_GOLDEN=1`` (exactly ``1``) rewrites the golden file with the actual text
  and *skips* the test, naming the file, so a rewrite never reads as a pass. Review the diff
  with ``git diff`` before committing. Unset, empty or ``0`` compares; any other value is an
  error, so ``=true`` or ``=yes`` cannot silently do either.
- A golden file whose first line is ``expected_failure: <reason>`` is a known-bad case: the
  rest of the file is the right answer, which the code does not give yet. It is reported as
  xfail with the reason; when it starts to match, the test fails until the line is removed
  (strict, so a fix is noticed). A rewrite leaves known-bad files alone.
- On a mismatch the test fails with a unified diff, golden first.

    from tests.golden import check_text
    check_text(GOLDEN / "name.txt", actual, what="model.prompt output")
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Callable, NoReturn

import pytest

ENV = "QWENPAIR_UPDATE_GOLDEN"
KNOWN_BAD = "expected_failure:"
_REPO = Path(__file__).resolve().parents[1]


def updating() -> bool:
    """True when golden files are to be rewritten (``QWENPAIR_UPDATE_GOLDEN=1``)."""
    value = os.environ.get(ENV, "")
    if value in ("", "0"):
        return False
    if value == "1":
        return True
    pytest.fail(f"{ENV}={value!r}: set it to 1 to rewrite the golden files, or unset it to compare")


def shown(path: Path) -> str:
    """``path`` relative to the repository when it is inside it (shorter messages)."""
    try:
        return str(path.resolve().relative_to(_REPO))
    except ValueError:
        return str(path)


def rewrite(path: Path, text: str) -> NoReturn:
    """Write ``text`` to ``path`` and skip the calling test with a message saying so."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    pytest.skip(f"rewrote golden file {shown(path)} ({ENV}=1); review `git diff` before committing")


def known_bad_reason(text: str) -> str | None:
    """The reason of a known-bad golden text (its ``expected_failure:`` first line), else None."""
    first = text.split("\n", 1)[0]
    if not first.startswith(KNOWN_BAD):
        return None
    reason = first[len(KNOWN_BAD):].strip()
    if not reason:
        pytest.fail(f"an `{KNOWN_BAD}` line must say why the case is known to be bad")
    return reason


def xfail_param(value, reason: str | None, *, id: str | None = None):
    """A ``pytest.param`` that is a strict xfail when ``reason`` names a known-bad case (for
    golden sets whose files carry ``expected_failure`` in their own header format)."""
    marks = [pytest.mark.xfail(reason=f"known-bad golden case: {reason}", strict=True)] if reason else []
    return pytest.param(value, marks=marks, id=id)


def diff(expected: str, actual: str, golden: str, what: str,
         lines: Callable[[str], list[str]] | None = None) -> str:
    """A unified diff, golden first; ``lines`` splits a text for display (default: lines with
    their ends)."""
    split = lines or (lambda text: text.splitlines(keepends=True))
    out = difflib.unified_diff(split(expected), split(actual), golden, what)
    return "".join(line if line.endswith("\n") else line + "\n" for line in out)


def check_text(path: Path, actual: str, *, what: str = "actual",
               lines: Callable[[str], list[str]] | None = None) -> None:
    """Compare ``actual`` with the golden file at ``path`` (or rewrite it, see the module)."""
    text = path.read_text(encoding="utf-8") if path.exists() else None
    reason = known_bad_reason(text) if text is not None else None
    expected = text.split("\n", 1)[1] if reason is not None else text
    if updating():
        if reason is not None:
            pytest.skip(f"golden file {shown(path)} is a known-bad case ({reason}); left as it is")
        rewrite(path, actual)
    if expected is None:
        pytest.fail(f"no golden file {shown(path)}: write it with {ENV}=1 and review it like code")
    if actual == expected:
        if reason is not None:
            pytest.fail(f"golden file {shown(path)} now matches but is marked `{KNOWN_BAD} {reason}`: "
                        "remove that line")
        return
    message = f"{what} differs from the golden file {shown(path)}:\n" + diff(expected, actual, shown(path), what, lines)
    if reason is not None:
        pytest.xfail(f"known-bad golden case: {reason}")
    pytest.fail(message)
