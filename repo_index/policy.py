"""``SourcePolicy``: may this text enter the index, a prompt, chat, edit or training data?

The one object every text source goes through (docs/security.md). It composes the path
rules of each workspace root (``rules.PathRules``) with the secret-content rule
(``secrets.find_secret``) and decides, for a path and, when the caller has it, the text:

1. file names with a control character are refused (a newline would write its own lines
   into a prompt's ``<|file_sep|>path`` header);
2. real-path confinement: the path is judged by the deepest workspace root that holds it,
   links are followed to their real target, and a target outside every root, inside
   ``.git`` or another excluded directory, or under an ignore or secret rule is refused;
3. secret names (``.env``, ``*.pem`` ...) and ignore files (``.gitignore``, ``.aiignore`` ...);
4. secret content, over the whole text that will be used (never a prefix);
5. open documents versus disk: text the editor (or the command line) hands over may be used
   even outside every root, judged by its name, by any VCS directory on its path and by its
   content; a file nobody handed over is read from disk only inside a workspace root.

A refusal is always of the whole file, never a redaction: a redacted file still shows the
shape of the secret and the code around it, and training on redactions teaches the model
to write placeholders. ``SourceVerdict.action`` says "refused" so callers can say which.

For the document being edited ("document" use) only the rules that protect something refuse
(secret name or content, ignore rules, excluded directories, symlink targets, control
characters, outside the workspace on disk); what a file merely looks like (too large,
minified, generated, not saved yet) still allows a completion in it: the user is typing
there. For indexing and training ("context" use) every rule refuses.

Cost: path verdicts are cached per path, keyed by the file's (mtime, size, inode) and
dropped on ``reload()``; a text's secret scan is cached per path while the text is unchanged
(one string comparison), and a text typed into a clean one is scanned only where it changed
(``secrets.find_secret_in_change``), so a completion request costs one ``lstat`` and a few
kilobytes of scanning whatever the document's size (``bench/policy_speed.py``). Not here: the ignore-file parsing (``rules``), the content shapes
(``secrets``). ``python -m repo_index.policy ROOT PATH`` prints one verdict.
"""

from __future__ import annotations

import os
import stat
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from repo_index.rules import (
    CONTROL_NAME, DEFAULT_EXCLUDED_DIRS, DEFAULT_MAX_BYTES, PathRules, has_control_chars,
)
from repo_index.secrets import find_secret, find_secret_in_change

__all__ = ["SourcePolicy", "SourceVerdict", "PolicyError", "OUTSIDE", "safe_root"]

#: The reason a file outside every workspace root is not read from disk.
OUTSIDE = "outside every workspace folder"
#: Version-control directories: never a root, never a source, whatever the ignore files say.
VCS_DIRS = frozenset({".git", ".hg", ".svn", ".bzr", "_darcs", ".jj", ".fossil"})
#: Path verdicts that keep even the document being edited out of a prompt.
_HARD = ("secret file", "excluded directory", "symlink target", "ignored by", CONTROL_NAME, OUTSIDE,
         "inside a version-control directory")
_CACHE_PATHS = 512
#: Characters of documents' texts kept for the secret scan's "only what changed" shortcut.
TEXT_CACHE_CHARS = 16_000_000


class PolicyError(ValueError):
    """A workspace root the policy cannot serve (one inside ``.git``); says what to do."""

    user_facing = True


@dataclass(frozen=True)
class SourceVerdict:
    """Whether a source may be used. ``reason`` is a short category ("secret file",
    "ignored by .gitignore", "outside every workspace folder" ...); ``detail`` says more
    (which secret, on which line: never the secret itself)."""

    allowed: bool
    reason: str = ""
    detail: str = ""

    @property
    def action(self) -> str:
        """"allowed" or "refused": the policy never redacts (see the module docstring)."""
        return "allowed" if self.allowed else "refused"

    def message(self) -> str:
        return f"{self.reason}: {self.detail}" if self.detail else self.reason


ALLOWED = SourceVerdict(True)


def safe_root(root: Path | str) -> Path:
    """``root`` resolved, or ``PolicyError`` when it lies inside a version-control directory
    (``.git`` holds credentials and remote URLs with tokens; it is never a workspace)."""
    real = Path(os.path.realpath(root))
    vcs = _vcs_dir_of(str(real))
    if vcs is not None:
        raise PolicyError(f"{root} is inside {vcs}, which is never a workspace; use the folder that holds "
                          f"{os.path.basename(vcs)} (--root {os.path.dirname(vcs)})")
    return real


def root_outside_vcs(path: Path | str) -> Path | None:
    """For a path inside a VCS directory, the folder that holds that directory (the
    workspace it belongs to); None when the path is not inside one."""
    vcs = _vcs_dir_of(os.path.realpath(path))
    return Path(os.path.dirname(vcs)) if vcs is not None else None


class SourcePolicy:
    """The policy for a set of workspace roots (one for the CLI, the folders for the server).

    ``policy(path, text=None) -> (allowed, reason)`` is the engines' ``PathPolicy`` (the
    document being completed, chatted about or edited); ``judge`` gives the full verdict;
    ``read`` reads a file from disk through every rule. Thread-safe.
    """

    def __init__(
        self,
        roots: Path | str | Iterable[Path | str] | None = (),
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        extra_ignores: tuple[str, ...] = (),
    ) -> None:
        self.max_bytes = max_bytes
        self.extra_ignores = tuple(extra_ignores)
        self._rules: dict[str, PathRules] = {}
        self._lock = threading.Lock()
        self._paths: OrderedDict[tuple[str, str], tuple[tuple, SourceVerdict]] = OrderedDict()
        self._texts: OrderedDict[str, tuple[str, SourceVerdict]] = OrderedDict()
        if roots is None:
            roots = ()
        elif isinstance(roots, (str, os.PathLike)):
            roots = (roots,)
        for root in roots:
            self.add_root(root)

    # -- roots --------------------------------------------------------------------------
    @property
    def roots(self) -> list[Path]:
        return [rules.root for rules in self._rules.values()]

    @property
    def root(self) -> Path | None:
        """The only root (``None`` with none or several): the CLI's workspace."""
        roots = self.roots
        return roots[0] if len(roots) == 1 else None

    def add_root(self, root: Path | str) -> Path:
        real = safe_root(root)
        with self._lock:
            if str(real) not in self._rules:
                self._rules[str(real)] = PathRules(real, max_bytes=self.max_bytes, extra_ignores=self.extra_ignores)
            self._paths.clear()
        return real

    def remove_root(self, root: Path | str) -> None:
        with self._lock:
            self._rules.pop(os.path.realpath(root), None)
            self._paths.clear()

    def reload(self) -> None:
        """Forget cached verdicts and ignore files (an ignore file changed)."""
        with self._lock:
            for rules in self._rules.values():
                rules.reload()
            self._paths.clear()
            self._texts.clear()

    def forget_text(self, path: Path | str) -> None:
        """Drop a closed document's text from the secret scan's cache: it is kept only so the
        next keystroke's scan covers what changed, and a closed 4 MB document would otherwise
        stay in memory until newer texts push it out (issue 18 soak)."""
        with self._lock:
            self._texts.pop(os.path.abspath(path), None)

    def rules_for(self, path: Path | str) -> PathRules | None:
        """The rules of the deepest root holding ``path`` as written, else its real path."""
        absolute = os.path.abspath(path)
        found = self._deepest(absolute)
        if found is None:
            found = self._deepest(os.path.realpath(absolute))
        return found

    # -- verdicts -----------------------------------------------------------------------
    def __call__(self, path: Path, text: str | None = None) -> tuple[bool, str]:
        """The engines' ``PathPolicy``: may this document (and ``text``) enter a prompt?"""
        verdict = self.judge(path, text, use="document")
        return verdict.allowed, verdict.message()

    def judge(self, path: Path | str, text: str | None = None, *, use: str = "document") -> SourceVerdict:
        """The verdict for ``path`` (and its ``text``, scanned whole, when given).

        ``use`` is "document" (the text the user is working on: the editor's or the one the
        command line named) or "context" (indexing, snippets, training: every rule refuses).
        With ``text=None`` and "document" use, the file is judged as read from disk: outside
        every root it is refused."""
        absolute = os.path.abspath(path)
        verdict = self._path_verdict(absolute, use=use, handed_over=text is not None)
        if not verdict.allowed or text is None:
            return verdict
        return self._judge_document(absolute, text)

    @staticmethod
    def judge_text(text: str | bytes) -> SourceVerdict:
        """The content rule alone, over all of ``text`` (training data, files read once)."""
        found = find_secret(text)
        return SourceVerdict(False, "secret file", found.describe()) if found else ALLOWED

    def _judge_document(self, key: str, text: str) -> SourceVerdict:
        """``judge_text`` for a document that is judged again on every request: the same
        text (one string comparison) is not scanned again."""
        with self._lock:
            hit = self._texts.get(key)
            if hit is not None and hit[0] == text:
                self._texts.move_to_end(key)
                return hit[1]
        if hit is not None and hit[1].allowed:  # typed into a clean text: scan what changed
            found = find_secret_in_change(hit[0], text)
            verdict = SourceVerdict(False, "secret file", found.describe()) if found else ALLOWED
        else:
            verdict = self.judge_text(text)
        with self._lock:
            self._texts.pop(key, None)
            self._texts[key] = (text, verdict)
            # open documents, not the whole tree, nor every document ever opened: at most 64
            # texts and TEXT_CACHE_CHARS characters, the oldest dropped (issue 18 finding 3)
            while len(self._texts) > 1 and (len(self._texts) > 64 or
                                            sum(len(t) for t, _ in self._texts.values()) > TEXT_CACHE_CHARS):
                self._texts.popitem(last=False)
        return verdict

    def read(self, path: Path | str, *, use: str = "document") -> tuple[str | None, SourceVerdict]:
        """(text, verdict) of a file read from disk through every rule; text is None when
        refused. Only files inside a workspace root are ever read."""
        absolute = os.path.abspath(path)
        verdict = self._path_verdict(absolute, use=use, handed_over=False)
        if not verdict.allowed:
            return None, verdict
        try:
            with open(absolute, "rb") as fh:
                data = fh.read(self.max_bytes + 1)
        except OSError as exc:
            return None, SourceVerdict(False, "unreadable", exc.strerror or str(exc))
        if len(data) > self.max_bytes:
            return None, SourceVerdict(False, "too large", f"over {self.max_bytes:,} bytes")
        if b"\0" in data[:8192]:
            return None, SourceVerdict(False, "binary")
        text = data.decode("utf-8", errors="replace")
        verdict = self.judge_text(text)
        return (text if verdict.allowed else None), verdict

    # -- internals ----------------------------------------------------------------------
    def _deepest(self, absolute: str) -> PathRules | None:
        best = None
        for root, rules in list(self._rules.items()):
            if absolute == root or absolute.startswith(root.rstrip(os.sep) + os.sep):
                if best is None or len(root) > len(str(best.root)):
                    best = rules
        return best

    def _path_verdict(self, absolute: str, *, use: str, handed_over: bool) -> SourceVerdict:
        try:
            st = os.lstat(absolute)
            key = (st.st_mtime_ns, st.st_size, st.st_ino, stat.S_IFMT(st.st_mode))
        except OSError:
            key = None  # not on disk (a new buffer): judged every time, it is cheap
        cache_key = (absolute, f"{use}:{int(handed_over)}")
        if key is not None:
            with self._lock:
                hit = self._paths.get(cache_key)
                if hit is not None and hit[0] == key:
                    self._paths.move_to_end(cache_key)
                    return hit[1]
        verdict = self._judge_path(absolute, use=use, handed_over=handed_over)
        if key is not None:
            with self._lock:
                self._paths[cache_key] = (key, verdict)
                while len(self._paths) > _CACHE_PATHS:
                    self._paths.popitem(last=False)
        return verdict

    def _judge_path(self, absolute: str, *, use: str, handed_over: bool) -> SourceVerdict:
        if has_control_chars(absolute):
            return SourceVerdict(False, CONTROL_NAME)
        real = os.path.realpath(absolute)
        vcs = _vcs_dir_of(real) or _vcs_dir_of(absolute)
        if vcs is not None:
            return SourceVerdict(False, "inside a version-control directory", vcs)
        rules = self.rules_for(absolute)
        if rules is None:
            if not handed_over:
                return SourceVerdict(False, OUTSIDE, "not open in the editor, so it is not read from disk")
            # Text the user handed over from outside every root: the name rules still apply.
            loose = PathRules(os.path.dirname(absolute), max_bytes=self.max_bytes)
            verdict = loose._check_file(absolute, os.path.basename(absolute), None, sniff=False)
        else:
            inside = absolute if rules.relative(absolute) is not None else real
            verdict = rules.check(inside, sniff=False)
        if verdict.allowed:
            return ALLOWED
        if use == "document" and not verdict.reason.startswith(_HARD):
            if not (verdict.reason == "vanished" and not handed_over):
                return ALLOWED  # too large, generated ...: still the user's document
        return SourceVerdict(False, verdict.reason)


def _vcs_dir_of(path: str) -> str | None:
    """The version-control directory ``path`` is in (or is), else None."""
    parts = path.split(os.sep)
    for i, part in enumerate(parts):
        if part in VCS_DIRS:
            return os.sep.join(parts[: i + 1]) or part
    return None


assert VCS_DIRS <= DEFAULT_EXCLUDED_DIRS  # the index never descends into them either


if __name__ == "__main__":  # python -m repo_index.policy ROOT PATH
    policy = SourcePolicy(sys.argv[1])
    text, verdict = policy.read(sys.argv[2])
    print(f"{verdict.action}: {verdict.message() or 'every rule passed'}")
