"""Workspace index: ignore and secret rules, tree-sitter symbols and windows, retrieval,
persistence and file watching. Imports none of qwenpair's other packages.

Public API (everything else is internal)::

    from repo_index import Workspace, IndexConfig, may_use_path

    # May this path be used (indexed, prompted, shown in chat, trained on)?
    may_use_path(root: Path | None, path: Path, *, max_bytes: int = 1_000_000) -> PathVerdict
    PathVerdict(allowed: bool, reason: str)          # reason "" when allowed, else e.g.
        # "secret file", "ignored by .gitignore", "binary", "too large", "excluded directory"
    PathRules(root, *, max_bytes=1_000_000, extra_ignores=())   # reusable, for bulk use
        .check(path, *, sniff=True) -> PathVerdict
        .walk(*, sniff=True) -> Iterator[Path]       # allowed files; .skipped: {rel: reason}
        .reload()                                    # after an ignore file changed

    # The one policy every text source goes through (docs/security.md): real-path
    # confinement to the roots, ignore and secret rules on symlink targets, secret content
    # scanned whole, open documents versus disk. Refuses whole files, never redacts.
    policy = SourcePolicy(roots, *, max_bytes=1_000_000)
    policy(path, text=None) -> (allowed, reason)     # the engines' PathPolicy
    policy.judge(path, text=None, *, use="document"|"context") -> SourceVerdict
    policy.read(path) -> (text | None, SourceVerdict)   # from disk, only inside a root
    SourceVerdict(allowed, reason, detail).action    # "allowed" | "refused"
    find_secret(text) -> SecretFinding | None        # the content rule, over all of text

    # The index of one workspace root (thread-safe).
    ws = Workspace.open(root: Path | str, config: IndexConfig | None = None, *,
                        notify: Callable[[str], None] | None = None)   # messages while waiting
    ws.rebuild_notice -> str                         # why the store was rebuilt on open, or ""
    ws.save_problem -> str                           # why the last snapshot was not saved, or ""
    ws.build(progress: Callable[[Progress], None] | None = None,
             cancel: threading.Event | Callable[[], bool] | None = None) -> BuildStats
    ws.refresh(paths: Iterable[Path | str]) -> BuildStats   # re-check files you know changed
    ws.start_watching() / ws.stop_watching()         # watchdog, debounced, reconciling
    ws.set_overlay(path, text) -> bool               # LSP didOpen / didChange (unsaved text)
    ws.clear_overlay(path)                           # LSP didClose
    ws.retrieve(path, text=None, line=0, col=0, *, max_definitions=None,
                max_similar=None, explain=False) -> list[Snippet]   # cross-file context for a cursor
        # definitions of what the cursor uses, by tier (Snippet.tier 0 = called at the
        # cursor ... 4 = only imported), resolved through imports and scope
        # (Snippet.resolution), large ones as skeletons (Snippet.brief: signature only);
        # explain=True adds the candidates left out (kind "dropped", empty text)
    ws.definitions(name) -> list[Definition]
    ws.symbols(path) -> list[Definition]             # one file's outline
    ws.imports(path, text=None) -> list[ResolvedImport]
    ws.references(name, limit=200) -> list[tuple[str, int]]   # every use, via the lexical index
    ws.stats() -> IndexStats
    ws.close()                                       # or use ``with Workspace.open(...)``

    # Does this text parse? (ERROR + MISSING nodes; None for a language we do not parse)
    syntax_errors(path: str | Path, text: str) -> int | None

Conventions: paths in results are relative to the root with "/" separators; lines are
0-based and spans half-open ``[start_line, end_line)``; ``col`` counts Unicode code points
(convert from LSP's UTF-16 before calling). ``Snippet.kind`` is "definition", "similar" or (explain only) "dropped";
``retrieve`` returns definitions first, each kind ranked best first, deterministically.
Errors a user can fix derive from ``WorkspaceError`` (``user_facing = True``).

Persistence: one SQLite store per root under ``$QWENPAIR_CACHE_DIR`` (else the user cache
dir, ``~/.cache/qwenpair``), in ``index/<name>-<hash>/``; rebuilt when unreadable or of
another schema version. Processes share a store: one writes at a time (a lock file; the
others wait and say so), readers see the last commit. A write that runs out of space is
a ``WorkspaceError`` naming the directory and the space; what was committed stays. Run ``python -m repo_index.rules PATH [ROOT]`` to see one verdict.
"""

from repo_index.config import IndexConfig
from repo_index.facts import BuildStats, Definition, ResolvedImport, Snippet
from repo_index.indexer import Progress
from repo_index.policy import PolicyError, SourcePolicy, SourceVerdict
from repo_index.rules import PathRules, PathVerdict, may_use_path
from repo_index.secrets import SecretFinding, find_secret
from repo_index.syntax import syntax_errors
from repo_index.workspace import IndexStats, Workspace, WorkspaceError

__all__ = [
    "BuildStats",
    "Definition",
    "IndexConfig",
    "IndexStats",
    "PathRules",
    "PathVerdict",
    "PolicyError",
    "Progress",
    "ResolvedImport",
    "SecretFinding",
    "Snippet",
    "SourcePolicy",
    "SourceVerdict",
    "Workspace",
    "WorkspaceError",
    "find_secret",
    "may_use_path",
    "syntax_errors",
]
