"""From a name or an attribute chain used at the cursor to the definitions it means.

Resolution goes through scope and imports, the way the language does it, and says how:

- "same file": a definition at the top of the current file shadows every same-named one
  elsewhere; a name bound locally in the enclosing function (parameter, assignment) is no
  definition at all;
- "import": the file's imports, followed with their aliases (``bindings``) into the module
  file (``resolve``) and on through re-exports (``from .x import a`` in ``__init__.py``,
  ``export {a} from './x'``) and star imports, at most ``MAX_HOPS`` files deep, each
  (file, name) once, so import cycles end; ``mod.f`` after ``from . import mod`` or
  ``import pkg.mod as mod`` is ``f`` in that module;
- "self method": ``self.m`` / ``this.m`` in a method is ``m`` of the enclosing class, or of
  a base class resolved the same way;
- "annotation" / "constructor": ``obj.m`` where ``obj: Cls`` or ``obj = Cls(...)`` (also
  ``self.attr``) is ``m`` of ``Cls``.

What fails here falls back to a lookup by name in ``gathering`` ("name only"). A module
that resolves to a file the rules refuse (ignored, secret) is reported, never read.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

from repo_index import js_exports, languages, resolve
from repo_index.bindings import DEFAULT, MODULE, STAR, Binding
from repo_index.facts import CLASS_KINDS, Definition, ImportStmt
from repo_index.usage import Site

if TYPE_CHECKING:
    from repo_index.gathering import Retrieval

MAX_HOPS = 6
SELF = ("self", "this", "cls")


@dataclass(frozen=True)
class Found:
    definition: Definition | None  # None: the name is a module (``module`` holds its file)
    resolution: str
    detail: str = ""
    module: str = ""


@dataclass
class Answer:
    found: list[Found] = field(default_factory=list)
    bound: bool = False  # the name means something known here: no lookup by name
    refused: list[tuple[str, str]] = field(default_factory=list)  # (path, why)


class Resolver:
    """Resolution for one request: the current file's scope, bindings and the index."""

    def __init__(self, retrieval: "Retrieval", rel: str, language: str, site: Site,
                 symbols: Sequence[Definition], bindings: Sequence[Binding]) -> None:
        self.r = retrieval
        self.rel = rel
        self.language = language
        self.site = site
        self.top = {}
        for d in symbols:
            if not d.parent:
                self.top.setdefault(d.name, []).append(d)
        self.members = [d for d in symbols if d.parent]
        # an import inside a function binds only there (Python scoping); the enclosing
        # function's own imports win over the module's
        here = site.function_span[0]
        visible = [b for b in bindings if b.scope < 0 or b.scope == here]
        self.bindings = {b.local: b for b in sorted(visible, key=lambda b: b.scope == here) if b.local != STAR}
        self.stars = [b for b in visible if b.local == STAR]
        self._memo: dict[str, Answer] = {}

    # -- names ------------------------------------------------------------------------

    def name(self, name: str) -> Answer:
        if name in self._memo:
            return self._memo[name]
        answer = Answer()
        self._memo[name] = answer
        if name in self.site.local_names and name not in self.top:
            answer.bound = True
        elif name in self.top:
            answer.bound = True
            answer.found = [Found(d, "same file") for d in self.top[name]]
        elif name in self.bindings:
            answer.bound = True
            binding = self.bindings[name]
            self._follow(self.rel, self.language, binding, answer, 0, set(), "",
                         f"`{name}` is imported on line {binding.line + 1}")
            if not answer.found and not answer.refused:
                answer.bound = False  # a module outside the workspace: a lookup by name may still help
        else:
            for star in self.stars:
                self._follow_star(self.rel, self.language, star, name, answer, 0, set())
                if answer.found:
                    answer.bound = True
                    break
        return answer

    def chain(self, chain: str) -> Answer:
        if chain in self._memo:
            return self._memo[chain]
        answer = Answer()
        self._memo[chain] = answer
        receiver, _, attr = chain.rpartition(".")
        site = self.site
        if receiver in SELF and site.enclosing_class:
            for d in self._members_of_class(self.rel, site.enclosing_class, attr):
                answer.found.append(Found(d, "self method", f"`{receiver}` is a {site.enclosing_class}"))
            if not answer.found:
                for base in site.class_bases:
                    for cls in self._classes(base):
                        for d in self._members_of_class(cls.path, cls.name, attr):
                            answer.found.append(Found(d, "self method", f"inherited from {base}"))
            answer.bound = bool(answer.found)
            return answer
        if receiver in site.types:
            type_name, how = site.types[receiver]
            for cls in self._classes(type_name):
                for d in self._members_of_class(cls.path, cls.name, attr):
                    answer.found.append(Found(d, how, f"`{receiver}` is a {type_name}"))
            if answer.found:
                answer.bound = True
                return answer
        target = self.name(receiver) if "." not in receiver else self.chain(receiver)
        for f in target.found:
            if f.definition is None:
                self._find_in(f.module, attr, answer, 0, set(), f.resolution, f"`{receiver}` is {f.module}")
            elif f.definition.kind in CLASS_KINDS:
                for d in self._members_of_class(f.definition.path, f.definition.name, attr):
                    answer.found.append(Found(d, f.resolution, f"member of {f.definition.name}"))
        answer.refused += target.refused
        answer.bound = bool(answer.found) or bool(target.refused)
        return answer

    def _classes(self, type_name: str) -> list[Definition]:
        answer = self.name(type_name) if "." not in type_name else self.chain(type_name)
        return [f.definition for f in answer.found if f.definition is not None and f.definition.kind in CLASS_KINDS]

    def _members_of_class(self, path: str, cls: str, attr: str) -> list[Definition]:
        pool = [d for d in self.members if d.parent == cls] if path == self.rel else self.r.members(path, cls)
        return [d for d in pool if d.name == attr]

    # -- following imports ---------------------------------------------------------------

    def _follow(self, importer: str, language: str, b: Binding, answer: Answer, hops: int, seen: set,
                via: str, origin: str = "") -> None:
        paths, submodule = self.module_files(importer, language, b.module, b.name, answer)
        detail = "; ".join(p for p in (origin, f"re-exported by {via}" if via else "") if p)
        if b.name == MODULE:
            answer.found += [Found(None, "import", detail, p) for p in paths[:1]]
            if language != "python":
                # `const f = require('./f')`: the module's `module.exports = f` is what is called
                answer.found += [Found(d, "import", detail) for p in paths[:1] for d in js_exports.module_export(self.r, p, b.local)]
        elif submodule:
            answer.found.append(Found(None, "import", detail, submodule))
        else:
            for path in paths:
                self._find_in(path, b.name, answer, hops + 1, seen, "import", detail)
                if answer.found:
                    break

    def _follow_star(self, importer: str, language: str, star: Binding, name: str, answer: Answer,
                     hops: int, seen: set) -> None:
        paths, _ = self.module_files(importer, language, star.module, "", answer)
        for path in paths:
            self._find_in(path, name, answer, hops + 1, seen, "import", f"through `from {star.module} import *`"
                          if language == "python" else f"through `export * from '{star.module}'`")
            if answer.found:
                return

    def _find_in(self, path: str, name: str, answer: Answer, hops: int, seen: set, resolution: str,
                 detail: str) -> None:
        if hops > MAX_HOPS or (path, name) in seen:
            return  # an import cycle, or a chain of re-exports too long to be worth it
        seen.add((path, name))
        language = _language(path)
        # the last of several same-named definitions first: `@overload` stubs precede the
        # implementation, and a later definition replaces an earlier one
        top = self.r.top_level(path, name)[::-1]
        if name == DEFAULT:
            top = js_exports.default_export(self.r, path)
        if not top and language != "python":
            top = js_exports.exported_assignment(self.r, path, name)
        if top:
            answer.found += [Found(d, resolution, detail) for d in top]
            return
        bindings = self.r.file_bindings(path)
        for b in bindings:
            if b.local == name and b.scope < 0:
                self._follow(path, language, b, answer, hops, seen, path)
                if answer.found:
                    return
        for b in bindings:
            if b.local == STAR and b.scope < 0:
                self._follow_star(path, language, b, name, answer, hops, seen)
                if answer.found:
                    return
        if language == "python" and path.endswith("__init__.py"):
            # `pkg.sub` where sub is a submodule the package does not import itself
            sub = self.r.fileset().first((posixpath.join(posixpath.dirname(path), name + ".py"),
                                          posixpath.join(posixpath.dirname(path), name, "__init__.py")))
            if sub:
                answer.found.append(Found(None, resolution, detail, sub[0]))

    def module_files(self, importer: str, language: str, module: str, name: str,
                     answer: Answer | None = None) -> tuple[list[str], str]:
        """(files of ``module`` as imported by ``importer``, the submodule ``name`` when
        ``from module import name`` names a module rather than a definition)."""
        files = self.r.fileset()
        memo = self.r.module_memo(files)
        key = (importer, language, module, name)
        hit = memo.get(key)
        if hit is None:
            if len(memo) > 8192:
                memo.clear()
            hit = memo[key] = self._module_files(files, importer, language, module, name)
        paths, submodule, refused = hit
        if refused and answer is not None:
            answer.refused.append(refused)
        return list(paths), submodule

    def _module_files(self, files: resolve.FileSet, importer: str, language: str, module: str, name: str):
        if language == "python" and not module.startswith(".") and self.r.root_package:
            head, _, rest = module.partition(".")
            if head == self.r.root_package:  # the workspace root is itself the package
                module = rest
        names = (name,) if name and name not in (MODULE, STAR, DEFAULT) else ()
        paths = list(resolve.resolve(language, importer, ImportStmt(0, module, names, False), files))
        submodule = ""
        if names and language == "python":
            for p in paths:
                stem = posixpath.basename(p[:-3] if p.endswith(".py") else p)
                if stem == name or (stem == "__init__" and posixpath.basename(posixpath.dirname(p)) == name):
                    submodule = p
            paths = [p for p in paths if p != submodule]
        refused = self.r.refused_module(importer, language, module) if not paths and not submodule else None
        return tuple(paths), submodule, refused


def _language(path: str) -> str:
    spec = languages.language_for(path)
    return spec.name if spec else ""
