"""Import statements -> workspace files, per language.

Resolution is by the workspace's own layout only (no interpreter paths, no node_modules,
no build files beyond the module line of go.mod and the presence of Cargo.toml):

- Python: relative imports by package directory; absolute ones from the root, ``src/``,
  ``lib/``, the importer's top-level package parent and its own directory; ``from p import
  m`` also finds the submodule ``p/m.py``;
- JavaScript/TypeScript: relative paths with the usual extensions and ``index`` files, plus
  the ``@/`` and ``~/`` aliases for ``src/``;
- Go: the module path of the nearest ``go.mod`` maps an import to a package directory;
- Rust: ``mod x;`` to ``x.rs`` or ``x/mod.rs``; ``use crate::``, ``self::``, ``super::``
  paths to the longest module file that exists;
- Java: the declared package plus class name, else the path ``a/b/C.java``;
- C/C++: include paths next to the importer, else by path suffix;
- C#: files declaring the namespace; PHP: PSR-4 style path suffix; Ruby and Lua: paths.

Anything else resolves to nothing: the statement is still listed, with no paths. Not here:
reading import statements (``extract``), or ranking what they point to (``retrieval``).
"""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict
from typing import Callable, Iterable

from repo_index.facts import ImportStmt

_JS_EXTENSIONS = (".ts", ".tsx", ".d.ts", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts")
_MAX_PATHS = 20
_GO_MODULE = re.compile(r"^\s*module\s+(\S+)", re.MULTILINE)


class FileSet:
    """The workspace's indexed paths with the lookups that resolution needs."""

    def __init__(self, paths: Iterable[str], packages: dict[str, str] | None = None,
                 read_text: Callable[[str], str | None] | None = None) -> None:
        self.paths = set(paths)
        self.by_name: dict[str, list[str]] = defaultdict(list)
        self.by_dir: dict[str, list[str]] = defaultdict(list)
        for path in sorted(self.paths):
            directory, _, name = path.rpartition("/")
            self.by_name[name].append(path)
            self.by_dir[directory].append(path)
        self.by_package: dict[str, list[str]] = defaultdict(list)
        for path, package in sorted((packages or {}).items()):
            if package:
                self.by_package[package].append(path)
        self._read_text = read_text or (lambda path: None)
        self._go_modules: dict[str, str] | None = None

    def has(self, path: str) -> bool:
        return path in self.paths

    def first(self, candidates: Iterable[str]) -> tuple[str, ...]:
        for candidate in candidates:
            candidate = posixpath.normpath(candidate)
            if candidate in self.paths:
                return (candidate,)
        return ()

    def by_suffix(self, tail: str, near: str) -> tuple[str, ...]:
        """Files whose path ends with ``tail``; the one closest to ``near`` first."""
        name = tail.rpartition("/")[2]
        found = [p for p in self.by_name.get(name, ()) if p == tail or p.endswith("/" + tail)]
        found.sort(key=lambda p: (-_common_prefix_depth(p, near), p))
        return tuple(found[:_MAX_PATHS])

    def go_modules(self) -> dict[str, str]:
        """Directory of each go.mod -> its module path."""
        if self._go_modules is None:
            self._go_modules = {}
            for path in self.by_name.get("go.mod", ()):
                text = self._read_text(path) or ""
                match = _GO_MODULE.search(text)
                if match:
                    self._go_modules[path.rpartition("/")[0]] = match.group(1)
        return self._go_modules


def resolve(language: str, importer: str, stmt: ImportStmt, files: FileSet) -> tuple[str, ...]:
    resolver = _RESOLVERS.get(language)
    if resolver is None:
        return ()
    found = resolver(importer, stmt, files)
    return tuple(p for p in dict.fromkeys(found) if p != importer)[:_MAX_PATHS]


def _common_prefix_depth(a: str, b: str) -> int:
    depth = 0
    for x, y in zip(a.split("/")[:-1], b.split("/")[:-1]):
        if x != y:
            break
        depth += 1
    return depth


def _dir(path: str) -> str:
    return path.rpartition("/")[0]


def _join(*parts: str) -> str:
    return posixpath.normpath(posixpath.join(*[p for p in parts if p])) if any(parts) else ""


# -- Python ------------------------------------------------------------------------------

def _python_roots(importer: str, files: FileSet) -> list[str]:
    roots = ["", "src", "lib"]
    directory = _dir(importer)
    top = directory
    while top and files.has(_join(top, "__init__.py")):
        top = _dir(top)
    roots += [top, directory]
    return list(dict.fromkeys(roots))


def _python_module(base: str, dotted: str, files: FileSet) -> tuple[str, ...]:
    rel = dotted.replace(".", "/")
    stem = _join(base, rel)
    return files.first((stem + ".py", stem + ".pyi", _join(stem, "__init__.py"), _join(stem, "__init__.pyi")))


def _resolve_python(importer: str, stmt: ImportStmt, files: FileSet) -> list[str]:
    module = stmt.module
    if module.startswith("."):
        level = len(module) - len(module.lstrip("."))
        base = _dir(importer)
        for _ in range(level - 1):
            base = _dir(base)
        bases = [base]
        module = module[level:]
    else:
        bases = _python_roots(importer, files)
    found: list[str] = []
    for base in bases:
        target = _python_module(base, module, files) if module else files.first((_join(base, "__init__.py"),))
        submodules = [p for name in stmt.names for p in _python_module(_join(base, module.replace(".", "/")), name, files)]
        if target or submodules:
            found += [*target, *submodules]
            break
    return found


# -- JavaScript / TypeScript ---------------------------------------------------------------

def _resolve_js(importer: str, stmt: ImportStmt, files: FileSet) -> list[str]:
    module = stmt.module
    if module.startswith("."):
        stem = _join(_dir(importer), module)
    elif module.startswith(("@/", "~/")):
        stem = _join("src", module[2:])
    else:
        return []
    candidates = [stem]
    base, ext = posixpath.splitext(stem)
    if ext in (".js", ".jsx", ".mjs", ".cjs"):
        # TypeScript sources import their compiled name ("./x.js" means ./x.ts).
        candidates += [base + e for e in _JS_EXTENSIONS]
    candidates += [stem + e for e in _JS_EXTENSIONS]
    candidates += [_join(stem, "index" + e) for e in _JS_EXTENSIONS]
    return list(files.first(candidates))


# -- Go ------------------------------------------------------------------------------------

def _resolve_go(importer: str, stmt: ImportStmt, files: FileSet) -> list[str]:
    path = stmt.module
    for mod_dir, module in sorted(files.go_modules().items(), key=lambda kv: -len(kv[1])):
        if path == module or path.startswith(module + "/"):
            directory = _join(mod_dir, path[len(module):].lstrip("/"))
            return _go_package(directory, files)
    # No go.mod that claims it: the longest workspace directory that ends the import path.
    parts = path.split("/")
    directories = sorted(files.by_dir)
    for i in range(len(parts)):
        tail = "/".join(parts[i:])
        for directory in directories:
            if directory == tail or directory.endswith("/" + tail):
                package = _go_package(directory, files)
                if package:
                    return package
    return []


def _go_package(directory: str, files: FileSet) -> list[str]:
    return [p for p in files.by_dir.get(directory, ()) if p.endswith(".go") and not p.endswith("_test.go")]


# -- Rust ----------------------------------------------------------------------------------

def _rust_module_dir(importer: str) -> str:
    directory, _, name = importer.rpartition("/")
    if name in ("lib.rs", "main.rs", "mod.rs"):
        return directory
    return _join(directory, name[:-3]) if name.endswith(".rs") else directory


def _rust_crate_src(importer: str, files: FileSet) -> str:
    directory = _dir(importer)
    while True:
        if files.has(_join(directory, "Cargo.toml")):
            return _join(directory, "src")
        if not directory:
            return "src" if any(p.startswith("src/") for p in files.by_dir.get("src", ())) else ""
        directory = _dir(directory)


def _rust_file(directory: str, segments: list[str], files: FileSet) -> tuple[str, ...]:
    """The longest prefix of ``segments`` that is a module file under ``directory``."""
    for end in range(len(segments), 0, -1):
        stem = _join(directory, *segments[:end])
        hit = files.first((stem + ".rs", _join(stem, "mod.rs")))
        if hit:
            return hit
    return ()


def _resolve_rust(importer: str, stmt: ImportStmt, files: FileSet) -> list[str]:
    text = re.sub(r"\s+as\s+\w+", "", stmt.module)  # aliases do not change the target
    text = re.sub(r"\s+", "", text)
    if stmt.relative:  # `mod name;`
        directory = _rust_module_dir(importer)
        return list(files.first((_join(directory, text + ".rs"), _join(directory, text, "mod.rs"))))
    head, _, group = text.partition("::{")
    names = [n for n in group.rstrip("}").split(",") if n and "{" not in n] if group else []
    segments = [s for s in head.split("::") if s]
    if not segments:
        return []
    first = segments[0]
    if first == "crate":
        base, segments = _rust_crate_src(importer, files), segments[1:]
    elif first == "self":
        base, segments = _rust_module_dir(importer), segments[1:]
    elif first == "super":
        base = _rust_module_dir(importer)
        while segments and segments[0] == "super":
            base, segments = _dir(base), segments[1:]
    else:
        return []
    found: list[str] = []
    for name in names or [""]:
        path = segments + ([name] if name and name != "self" else [])
        found += _rust_file(base, path, files)
    return found


# -- Java, C#, PHP -------------------------------------------------------------------------

def _resolve_java(importer: str, stmt: ImportStmt, files: FileSet) -> list[str]:
    parts = stmt.module.split(".")
    if "*" in stmt.names:
        package = stmt.module
        return [p for p in files.by_package.get(package, ()) if p.endswith(".java")] or list(
            _java_dir(parts, files))
    for end in range(len(parts), 1, -1):  # a static import names a member after the class
        package, cls = ".".join(parts[:end - 1]), parts[end - 1]
        hits = [p for p in files.by_package.get(package, ()) if p.endswith("/" + cls + ".java") or p == cls + ".java"]
        if hits:
            return hits
        hits = list(files.by_suffix("/".join(parts[:end]) + ".java", importer))
        if hits:
            return hits[:1]
    return []


def _java_dir(parts: list[str], files: FileSet) -> Iterable[str]:
    tail = "/".join(parts)
    for directory, paths in files.by_dir.items():
        if directory == tail or directory.endswith("/" + tail):
            return [p for p in paths if p.endswith(".java")]
    return []


def _resolve_csharp(importer: str, stmt: ImportStmt, files: FileSet) -> list[str]:
    return [p for p in files.by_package.get(stmt.module, ()) if p.endswith(".cs")]


def _resolve_php(importer: str, stmt: ImportStmt, files: FileSet) -> list[str]:
    if stmt.relative:
        module = stmt.module
        return list(files.first((_join(_dir(importer), module.lstrip("/")), module.lstrip("/"))))
    targets = [f"{stmt.module}\\{n}" for n in stmt.names] if stmt.names else [stmt.module]
    found: list[str] = []
    for target in targets:
        parts = [p for p in target.split("\\") if p]
        for start in range(len(parts) - 1):  # PSR-4 maps a namespace prefix to some directory
            hits = files.by_suffix("/".join(parts[start:]) + ".php", importer)
            if hits:
                found.append(hits[0])
                break
        else:
            found += list(files.by_suffix(parts[-1] + ".php", importer)[:1]) if parts else []
    return found


# -- C / C++, Ruby, Lua --------------------------------------------------------------------

def _resolve_c(importer: str, stmt: ImportStmt, files: FileSet) -> list[str]:
    module = stmt.module
    hit = files.first((_join(_dir(importer), module), module, _join("include", module), _join("src", module)))
    return list(hit or files.by_suffix(posixpath.normpath(module), importer)[:1])


def _resolve_ruby(importer: str, stmt: ImportStmt, files: FileSet) -> list[str]:
    module = stmt.module if stmt.module.endswith(".rb") else stmt.module + ".rb"
    if stmt.relative:
        return list(files.first((_join(_dir(importer), module),)))
    return list(files.first((_join("lib", module), module)) or files.by_suffix(module, importer)[:1])


def _resolve_lua(importer: str, stmt: ImportStmt, files: FileSet) -> list[str]:
    rel = stmt.module.replace(".", "/")
    candidates = []
    for base in ("", "lua", "src", _dir(importer)):
        candidates += [_join(base, rel + ".lua"), _join(base, rel, "init.lua")]
    return list(files.first(candidates) or files.by_suffix(rel + ".lua", importer)[:1])


_RESOLVERS: dict[str, Callable[[str, ImportStmt, FileSet], list[str]]] = {
    "python": _resolve_python,
    "javascript": _resolve_js,
    "typescript": _resolve_js,
    "tsx": _resolve_js,
    "go": _resolve_go,
    "rust": _resolve_rust,
    "java": _resolve_java,
    "csharp": _resolve_csharp,
    "php": _resolve_php,
    "c": _resolve_c,
    "cpp": _resolve_c,
    "ruby": _resolve_ruby,
    "lua": _resolve_lua,
}
