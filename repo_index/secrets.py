"""Secret content: the one function that says whether a text carries a credential.

Every path that reads file text asks here, over the whole text it will use (never a prefix):
the indexer (``extract``), the editor's unsaved buffers (``Workspace.set_overlay``),
snippets read back from disk, the prompt, chat and edit policy (``repo_index.policy``) and
training data (``training``). Secret *names* (``.env``, ``*.pem`` ...) are judged in
``file_kinds``; this module judges what a file says.

What counts (chosen for few false positives; each shape is specific to one issuer):

- a PEM private key block (``-----BEGIN ... PRIVATE KEY-----``);
- an AWS access key id (``AKIA``/``ASIA`` + 16 upper-case letters or digits) or an
  ``aws_secret_access_key = <40 characters>`` assignment;
- credential JSON: a service-account or authorized-user ``type``, or a ``client_secret``,
  ``refresh_token`` or ``private_key`` key with a literal value of 12 or more characters,
  digits among them (``"refresh_token": "my_refresh_token"`` is a placeholder, not a token);
- GitHub (``ghp_`` ``gho_`` ``ghu_`` ``ghs_`` ``ghr_``, ``github_pat_``), GitLab
  (``glpat-``), Slack (``xoxb-`` ``xoxp-`` ...), Stripe live (``sk_live_``) and Google API
  (``AIza``) tokens;
- a URL with a password in it (``https://user:token@host``), as git remotes carry them;
  placeholders (``user:password@``, ``postgres:postgres@``: lower-case letters only, or a
  ``{template}``) are not passwords.

Not here: entropy guessing (too many false positives on hashes and test vectors), or any
decision about what to do with a finding: ``repo_index.policy`` refuses the whole file.

Cost: each rule first runs a gate, a search for a literal (or a regex that starts with one,
which ``re`` searches nearly as fast), and its full expression only where the gate found
something; ordinary code scans at about 50 MB/s (``python -m repo_index.secrets FILE``
prints the finding and the time). A document being typed into is scanned only where it
changed (``find_secret_in_change``).
"""

from __future__ import annotations

import re
import sys
import time
from typing import NamedTuple

__all__ = ["SecretFinding", "find_secret", "find_secret_in_change", "has_secret", "MAX_MATCH"]


class SecretFinding(NamedTuple):
    """What was found and where (0-based line), for a refusal message; never the secret."""

    kind: str
    line: int

    def describe(self) -> str:
        return f"contains {self.kind} (line {self.line + 1})"


class _Rule(NamedTuple):
    kind: str
    gates: tuple[str, ...]  # regexes, each starting with a literal (a fast search): the
    # pattern can only match where one of them does, so most texts cost only these searches
    pattern: str
    flags: int = 0


#: No rule matches more than this many characters, one character of context on either
#: side included (every repetition below is bounded for this): so a text that changed only
#: in [lo, hi) can gain a match only within MAX_MATCH of that span (``find_secret_in_change``).
MAX_MATCH = 1024

_RULES = (
    _Rule("a private key", ("PRIVATE KEY",), r"-----BEGIN (?:[A-Z0-9]{1,20} ){0,4}PRIVATE KEY(?: BLOCK)?-----"),
    # AKIAIOSFODNN7EXAMPLE is AWS's documented placeholder: test code is full of it.
    _Rule("an AWS access key", ("A[KS]IA",), r"(?<![A-Z0-9])(?:AKIA|ASIA)(?!IOSFODNN7EXAMPLE)[A-Z0-9]{16}(?![A-Z0-9])"),
    _Rule("an AWS secret key", ("ccess_key", "CCESS_KEY", "ccessKey"),
          r"(?:aws_secret_access_key|secretaccesskey)[\"']?\s{0,16}[:=]\s{0,16}[\"']?[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])",
          re.IGNORECASE),
    _Rule("credential JSON", ('"type"',), r'"type"\s{0,16}:\s{0,16}"(?:service_account|authorized_user)"'),
    _Rule("credential JSON", ('"client_secret"', '"refresh_token"', '"private_key"'),
          r'"(?:client_secret|refresh_token|private_key)"\s{0,16}:\s{0,16}"(?=[^"\s]{12,400}")[^"\s]{0,400}?[0-9]'),
    _Rule("a GitHub token", ("gh(?:[pousr]_|ithub_pat_)",),
          r"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{60,255})(?![A-Za-z0-9_])"),
    _Rule("a GitLab token", ("glpat-",), r"glpat-[A-Za-z0-9_\-]{20}"),
    _Rule("a Slack token", ("xox",), r"(?<![A-Za-z0-9])xox[abposr]-[0-9A-Za-z\-]{10}"),
    _Rule("a Stripe key", ("k_live_",), r"(?<![A-Za-z0-9])[rs]k_live_[0-9A-Za-z]{20}"),
    _Rule("a Google API key", ("AIza",), r"(?<![A-Za-z0-9_\-])AIza[0-9A-Za-z_\-]{35}(?![A-Za-z0-9_\-])"),
    # user:password@ after a scheme; placeholders ({pw}, $PW, <pw>, %s, lower-case words) are not.
    _Rule("a password in a URL", ("://",),
          r"\b[a-z][a-z0-9+.\-]{0,30}://[^\s/@:\"'{}$<>%,;]{1,128}:(?![a-z]{1,256}@)[^\s/@:\"'{}$<>%,;]{8,256}@[A-Za-z0-9.\-]"),
)
_STR = tuple((r, tuple(re.compile(g) for g in r.gates), re.compile(r.pattern, r.flags)) for r in _RULES)
_BYTES = tuple(
    (r, tuple(re.compile(g.encode()) for g in r.gates), re.compile(r.pattern.encode(), r.flags)) for r in _RULES
)
#: Chunk size for finding the span two texts differ in (two slices compared per chunk).
_CHUNK = 4096
#: Gate hits per rule searched around one by one before one search of the whole text.
_MAX_WINDOWS = 64


def find_secret(text: str | bytes, start: int = 0, end: int | None = None) -> SecretFinding | None:
    """The first credential in ``text`` (all of it, or what starts in [start, end)), or None.
    Bytes are searched as they are (the shapes are ASCII), so a file need not be decoded."""
    if isinstance(text, (bytearray, memoryview)):
        text = bytes(text)
    rules = _BYTES if isinstance(text, bytes) else _STR
    stop = len(text) if end is None else min(end, len(text))
    # Matches must start before ``stop``; the search may read MAX_MATCH past it (to finish
    # one), and a leftmost match starting later means none starts earlier.
    limit = min(len(text), stop + MAX_MATCH)
    for rule, gates, regex in rules:
        m = _search(gates, regex, text, start, stop, limit)
        if m is not None:
            return SecretFinding(rule.kind, text.count("\n" if rules is _STR else b"\n", 0, m.start()))
    return None


def _search(gates, regex, text, start: int, stop: int, limit: int):
    """The first match of ``regex`` starting in [start, stop), looked for only around the
    gates' hits: every match contains a hit and is shorter than MAX_MATCH, so a match
    starting at or before a hit lies within MAX_MATCH of it. Many hits (a pathological text):
    one search over everything instead."""
    hits = 0
    for gate in gates:
        for hit in gate.finditer(text, start, limit):
            hits += 1
            if hits > _MAX_WINDOWS:
                m = regex.search(text, start, limit)
                return m if m is not None and m.start() < stop else None
            m = regex.search(text, max(start, hit.start() - MAX_MATCH), min(len(text), hit.end() + MAX_MATCH))
            # a match starting after the hit may be cut by the window's end: its own hit
            # (later in this loop) judges it
            if m is not None and m.start() <= hit.start() and m.start() < stop:
                return m
    return None


def find_secret_in_change(old: str, new: str) -> SecretFinding | None:
    """``find_secret(new)`` when ``old`` is known to hold no secret: only the span where the
    two differ is searched (with MAX_MATCH either side), so typing into a large document costs
    a few kilobytes of scanning, not the whole text. Sound because every rule's match is
    bounded: a match in ``new`` outside that span would have been a match in ``old``."""
    limit = min(len(old), len(new))
    lo = 0
    while lo + _CHUNK <= limit and old[lo:lo + _CHUNK] == new[lo:lo + _CHUNK]:
        lo += _CHUNK
    same_end = 0
    n_old, n_new = len(old), len(new)
    while lo + same_end + _CHUNK <= limit and (
            old[n_old - same_end - _CHUNK:n_old - same_end] == new[n_new - same_end - _CHUNK:n_new - same_end]):
        same_end += _CHUNK
    return find_secret(new, max(0, lo - MAX_MATCH), n_new - same_end + MAX_MATCH)


def has_secret(text: str | bytes) -> bool:
    return find_secret(text) is not None


if __name__ == "__main__":  # python -m repo_index.secrets FILE...
    for name in sys.argv[1:]:
        with open(name, "rb") as fh:
            blob = fh.read()
        t0 = time.perf_counter()
        found = find_secret(blob)
        ms = 1000 * (time.perf_counter() - t0)
        print(f"{name}: {found.describe() if found else 'no secret'} ({len(blob):,} bytes in {ms:.3f} ms)")
