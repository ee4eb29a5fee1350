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

Cost: each rule first looks for a literal needle with ``in`` (memchr speed), and runs its
regular expression only when the needle is present; 200 KB of ordinary code scans in well
under a millisecond (``python -m repo_index.secrets FILE`` prints the finding and the time).
"""

from __future__ import annotations

import re
import sys
import time
from typing import NamedTuple

__all__ = ["SecretFinding", "find_secret", "has_secret"]


class SecretFinding(NamedTuple):
    """What was found and where (0-based line), for a refusal message; never the secret."""

    kind: str
    line: int

    def describe(self) -> str:
        return f"contains {self.kind} (line {self.line + 1})"


class _Rule(NamedTuple):
    kind: str
    needles: tuple[str, ...]  # the regex can only match where one of these occurs
    pattern: str
    flags: int = 0


_RULES = (
    _Rule("a private key", ("PRIVATE KEY",), r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"),
    # AKIAIOSFODNN7EXAMPLE is AWS's documented placeholder: test code is full of it.
    _Rule("an AWS access key", ("AKIA", "ASIA"), r"(?<![A-Z0-9])(?:AKIA|ASIA)(?!IOSFODNN7EXAMPLE)[A-Z0-9]{16}(?![A-Z0-9])"),
    _Rule("an AWS secret key", ("aws_secret_access_key", "AWS_SECRET_ACCESS_KEY", "SecretAccessKey"),
          r"(?:aws_secret_access_key|secretaccesskey)[\"']?\s*[:=]\s*[\"']?[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])",
          re.IGNORECASE),
    _Rule("credential JSON", ('"type"',), r'"type"\s*:\s*"(?:service_account|authorized_user)"'),
    _Rule("credential JSON", ('"client_secret"', '"refresh_token"', '"private_key"'),
          r'"(?:client_secret|refresh_token|private_key)"\s*:\s*"(?=[^"\s]{12,}")[^"\s]*[0-9][^"\s]*"'),
    _Rule("a GitHub token", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
          r"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{60,})(?![A-Za-z0-9_])"),
    _Rule("a GitLab token", ("glpat-",), r"glpat-[A-Za-z0-9_\-]{20,}"),
    _Rule("a Slack token", ("xox",), r"(?<![A-Za-z0-9])xox[abposr]-[0-9A-Za-z\-]{10,}"),
    _Rule("a Stripe key", ("_live_",), r"(?<![A-Za-z0-9])[rs]k_live_[0-9A-Za-z]{20,}"),
    _Rule("a Google API key", ("AIza",), r"(?<![A-Za-z0-9_\-])AIza[0-9A-Za-z_\-]{35}(?![A-Za-z0-9_\-])"),
    # user:password@ after a scheme; placeholders ({pw}, $PW, <pw>, %s, lower-case words) are not.
    _Rule("a password in a URL", ("://",),
          r"\b[a-z][a-z0-9+.\-]*://[^\s/@:\"'{}$<>%,;]+:(?![a-z]+@)[^\s/@:\"'{}$<>%,;]{8,}@[A-Za-z0-9.\-]"),
)
_STR = tuple((r, re.compile(r.pattern, r.flags)) for r in _RULES)
_BYTES = tuple(
    (r, tuple(n.encode() for n in r.needles), re.compile(r.pattern.encode(), r.flags)) for r in _RULES
)


def find_secret(text: str | bytes) -> SecretFinding | None:
    """The first credential in ``text`` (all of it), or None. Bytes are searched as they are
    (the shapes are ASCII), so a file need not be decoded to be judged."""
    if isinstance(text, (bytes, bytearray, memoryview)):
        data = bytes(text)
        for rule, needles, regex in _BYTES:
            if any(n in data for n in needles):
                m = regex.search(data)
                if m is not None:
                    return SecretFinding(rule.kind, data.count(b"\n", 0, m.start()))
        return None
    for rule, regex in _STR:
        if any(n in text for n in rule.needles):
            m = regex.search(text)
            if m is not None:
                return SecretFinding(rule.kind, text.count("\n", 0, m.start()))
    return None


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
