"""The text a definition enters the prompt as: whole, as a skeleton, or as its signature.

A short definition is shown whole. A large class or function enters as a skeleton: its
header, the first paragraph of its docstring, its class-level fields and the signatures of
its members with the bodies elided (``...``); only the members used near the cursor keep
their bodies. The member list is capped (``MAX_MEMBERS``), so a 10,000-member class costs
what a 60-member one does. ``brief`` is the signature alone (plus the docstring's first
line), what the context packer falls back to when the fuller text does not fit
(issue 16: a 700-token class never pushes out five definitions in use).

Pure functions over lines and ``Definition`` spans; nothing is read or tokenized here.
"""

from __future__ import annotations

from typing import Collection, Sequence

from repo_index.facts import CLASS_KINDS, Definition

#: Members listed in a class skeleton; the rest are counted in one line.
MAX_MEMBERS = 60
#: Lines of a member kept whole because it is used near the cursor.
MAX_FULL_MEMBER_LINES = 30
_DOC_LINES = 6
_FIELD_LINES = 20


def _indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _head_rows(d: Definition, end: int) -> range:
    head = d.head_end if d.head_end > d.start_line else d.start_line + 1
    return range(d.start_line, min(head, end))


def _doc_rows(d: Definition, lines: Sequence[str], end: int) -> list[int]:
    """The docstring's first paragraph (and its closing line when that is only quotes)."""
    head = d.head_end if d.head_end > d.start_line else d.start_line + 1
    if not (head <= d.doc_start < d.doc_end <= end):
        return []
    rows = []
    for r in range(d.doc_start, min(d.doc_end, d.doc_start + _DOC_LINES)):
        if r > d.doc_start and not lines[r].strip():
            break
        rows.append(r)
    last = d.doc_end - 1
    if rows and rows[-1] < last and lines[last].strip() in ('"""', "'''", "*/"):
        rows.append(last)
    return rows


def brief(d: Definition, lines: Sequence[str]) -> str:
    """The signature lines and the docstring's first line, body elided."""
    end = min(d.end_line, len(lines))
    rows = list(_head_rows(d, end))
    doc = _doc_rows(d, lines, end)[:1]
    out = [lines[r] for r in rows + doc]
    if end > (doc[-1] + 1 if doc else (rows[-1] + 1 if rows else d.start_line)):
        body = lines[doc[0]] if doc else (lines[rows[-1] + 1] if rows and rows[-1] + 1 < end else "")
        out.append((_indent_of(body) or (_indent_of(out[0]) + "    " if out else "")) + "...")
    return "\n".join(out)


def definition_text(d: Definition, lines: Sequence[str], members: Sequence[Definition], max_lines: int,
                    used: Collection[str] = ()) -> str:
    """All of ``d`` when it has at most ``max_lines`` lines; else its skeleton, where the
    members named in ``used`` keep their bodies (up to ``MAX_FULL_MEMBER_LINES`` each)."""
    end = min(d.end_line, len(lines))
    if end - d.start_line <= max_lines:
        return "\n".join(lines[d.start_line:end])
    keep: list[int] = list(_head_rows(d, end)) + _doc_rows(d, lines, end)
    if d.kind in CLASS_KINDS:
        members = sorted(members, key=lambda m: m.start_line)
        shown = [m for m in members if m.name in used][:MAX_MEMBERS]
        shown += [m for m in members if m.name not in used][: MAX_MEMBERS - len(shown)]
        spans = [(m.start_line, m.end_line) for m in members]
        keep += _fields(d, lines, end, spans, set(keep))
        for m in shown:
            if m.name in used:
                keep += range(m.start_line, min(m.end_line, end, m.start_line + MAX_FULL_MEMBER_LINES))
            else:
                m_head = max(m.head_end, m.start_line + 1)
                keep += range(m.start_line, min(m_head, m.end_line, end))
                keep += _doc_rows(m, lines, end)[:1]
        rest = len(members) - len(shown)
    else:
        rest = 0
    rows = sorted(set(r for r in keep if d.start_line <= r < end))
    out: list[str] = []
    previous = None
    for r in rows:
        if previous is not None and r > previous + 1:
            closing_doc = d.doc_start <= previous < d.doc_end and r == d.doc_end - 1
            if not closing_doc and any(line.strip() for line in lines[previous + 1:r]):
                out.append(_indent_of(lines[previous] if _indent_of(lines[r]) == "" else lines[r]) + "...")
        out.append(lines[r])
        previous = r
    if previous is not None and previous < end - 1:
        body = _indent_of(lines[previous]) or (_indent_of(lines[d.start_line]) + "    ")
        out.append(body + "...")
    if rest > 0:
        body = _indent_of(out[-1]) if out else ""
        out.append(f"{body}# ... {rest} more members")
    return "\n".join(out)


def _fields(d: Definition, lines: Sequence[str], end: int, spans, taken: set[int]) -> list[int]:
    """Class-level lines outside every member (dataclass fields, constants), capped."""
    head = d.head_end if d.head_end > d.start_line else d.start_line + 1
    rows = []
    starts = sorted(spans)
    i = 0
    r = head
    while r < end and len(rows) < _FIELD_LINES:
        while i < len(starts) and starts[i][1] <= r:
            i += 1
        if i < len(starts) and starts[i][0] <= r < starts[i][1]:
            r = starts[i][1]
            continue
        text = lines[r].strip()
        in_doc = d.doc_start <= r < d.doc_end
        if text and r not in taken and not in_doc and not text.startswith(("#", "@", '"""', "'''")) and (
                ":" in text or "=" in text) and not text.endswith(("(", "[", "{", ",")):
            rows.append(r)
        r += 1
    return rows
