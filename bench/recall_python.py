"""Ground truth for Python: cross-file call sites, from ``ast`` with the imports resolved.

For each module of a repository this collects its top-level bindings in statement order
(``def``/``class``, ``import``, ``from ... import``, assignments), inside module-level
``if``/``try``/``with`` blocks too, and the same for each function's own scope. A call
``f(`` or ``mod.f(`` / ``pkg.mod.f(`` is a site when the name resolves, through
relative and absolute imports, ``__init__`` re-exports, ``import x as y``,
``from . import mod`` and star imports, to a ``def`` or ``class`` in ANOTHER file of the
repository. A name bound in the calling file itself (a local definition, a parameter, an
assignment) shadows the import and the call is not a site. Attribute calls on instances
(``obj.method(``) are not sites: their target needs type inference, which ``ast`` lacks.

The repository root is a package when it holds ``__init__.py`` (``site-packages/requests``:
its modules are ``requests.*``); otherwise its top-level folders are packages.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

from bench.recall_sites import Site, char_col, line_text, source_files


@dataclass(frozen=True)
class Definition:
    path: str
    line: int
    text: str
    alternates: tuple[tuple[int, str], ...] = ()  # earlier defs of the name: @overload stubs


@dataclass
class Module:
    name: str
    path: str
    is_package: bool
    lines: list[str]
    tree: ast.Module | None
    bindings: dict[str, tuple] = field(default_factory=dict)
    stars: list[str] = field(default_factory=list)


class PythonRepo:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.modules: dict[str, Module] = {}
        prefix = [root.name] if (root / "__init__.py").is_file() else []
        for rel in source_files(root, (".py",)):
            parts = prefix + rel[:-3].split("/")
            is_package = parts[-1] == "__init__"
            if is_package:
                parts = parts[:-1]
            if not parts or not all(p.isidentifier() for p in parts):
                continue
            text = (root / rel).read_text("utf-8", errors="replace")
            try:
                tree = ast.parse(text)
            except (SyntaxError, ValueError):
                tree = None  # a file that does not parse has no sites and defines nothing
            module = Module(".".join(parts), rel, is_package, text.split("\n"), tree)
            self.modules[module.name] = module
        for module in self.modules.values():
            if module.tree is not None:
                _bind_block(self, module, module.tree.body, module.bindings, module.stars)

    # -- resolution ----------------------------------------------------------------------
    def absolute(self, module: Module, base: str | None, level: int) -> str | None:
        """The module a ``from`` names, relative imports made absolute."""
        if level == 0:
            return base
        package = module.name.split(".") if module.is_package else module.name.split(".")[:-1]
        if level - 1 > len(package):
            return None
        package = package[: len(package) - (level - 1)]
        return ".".join(package + ([base] if base else [])) or None

    def resolve_binding(self, binding: tuple, seen: set) -> Definition | str | None:
        """A binding as a ``Definition``, a module name (str), or None (unknown/variable)."""
        kind = binding[0]
        if kind == "def":
            return binding[1]
        if kind == "module":
            return binding[1] if binding[1] in self.modules else None
        if kind == "from":
            base, name = binding[1], binding[2]
            if base is None:
                return None
            sub = f"{base}.{name}"
            if sub in self.modules:
                return sub
            return self.member(base, name, seen)
        return None

    def member(self, module_name: str, name: str, seen: set | None = None) -> Definition | str | None:
        """What ``module_name.name`` is, following re-exports and star imports."""
        seen = set() if seen is None else seen
        key = (module_name, name)
        if key in seen:  # an import cycle
            return None
        seen.add(key)
        module = self.modules.get(module_name)
        if module is None:
            return None
        binding = module.bindings.get(name)
        if binding is not None:
            return self.resolve_binding(binding, seen)
        for star in module.stars:
            found = self.member(star, name, seen)
            if found is not None:
                return found
        if f"{module_name}.{name}" in self.modules:
            return f"{module_name}.{name}"
        return None

    # -- sites -----------------------------------------------------------------------------
    def sites(self) -> list[Site]:
        out: list[Site] = []
        for module in self.modules.values():
            if module.tree is not None:
                _Calls(self, module, out).visit_body(module.tree.body, [module.bindings])
        return out


def _bind_block(repo: PythonRepo, module: Module, body: list[ast.stmt], bindings: dict, stars: list) -> None:
    """Bindings of one scope, in statement order, descending into blocks but not into
    nested functions or classes (whose names are theirs)."""
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            row = node.lineno - 1
            previous = bindings.get(node.name)
            alternates = ()
            if previous is not None and previous[0] == "def":  # @overload stubs, then the body
                alternates = previous[1].alternates + ((previous[1].line, previous[1].text),)
            bindings[node.name] = ("def", Definition(module.path, row, line_text(module.lines, row), alternates))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    bindings[alias.asname] = ("module", alias.name)
                else:
                    top = alias.name.split(".")[0]
                    bindings[top] = ("module", top)
        elif isinstance(node, ast.ImportFrom):
            base = repo.absolute(module, node.module, node.level)
            for alias in node.names:
                if alias.name == "*":
                    if base:
                        stars.append(base)
                else:
                    bindings[alias.asname or alias.name] = ("from", base, alias.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.For, ast.AsyncFor,
                               ast.With, ast.AsyncWith)):
            for target in _targets(node):
                bindings[target] = ("var",)
        if isinstance(node, (ast.If, ast.Try, ast.For, ast.While, ast.With, ast.AsyncWith, ast.AsyncFor)) or (
                hasattr(ast, "TryStar") and isinstance(node, getattr(ast, "TryStar"))):
            for block in ("body", "orelse", "finalbody"):
                _bind_block(repo, module, getattr(node, block, []) or [], bindings, stars)
            for handler in getattr(node, "handlers", []) or []:
                if handler.name:
                    bindings[handler.name] = ("var",)
                _bind_block(repo, module, handler.body, bindings, stars)


def _targets(node: ast.stmt) -> list[str]:
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, (ast.For, ast.AsyncFor)):
        targets = [node.target]
    elif isinstance(node, (ast.With, ast.AsyncWith)):
        targets = [i.optional_vars for i in node.items if i.optional_vars is not None]
    else:
        targets = [node.target]  # type: ignore[attr-defined]
    return [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]


def _own_nodes(body: list[ast.stmt]):
    """The nodes of a function body, not those of functions or classes nested in it."""
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            stack.extend(ast.iter_child_nodes(node))


class _Calls:
    """Walks one module with a chain of scopes, recording cross-file call sites."""

    def __init__(self, repo: PythonRepo, module: Module, out: list[Site]) -> None:
        self.repo, self.module, self.out = repo, module, out

    def visit_body(self, body: list[ast.stmt], scopes: list[dict]) -> None:
        for node in body:
            self.visit(node, scopes)

    def visit(self, node: ast.AST, scopes: list[dict]) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            for expr in [*node.args.defaults, *node.args.kw_defaults, *getattr(node, "decorator_list", [])]:
                if expr is not None:
                    self.visit(expr, scopes)
            local: dict[str, tuple] = {}
            args = node.args
            for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
                if a is not None:
                    local[a.arg] = ("var",)
            if isinstance(node, ast.Lambda):
                self.visit(node.body, scopes + [local])
                return
            _bind_block(self.repo, self.module, node.body, local, [])
            declared_global: set[str] = set()
            for inner in _own_nodes(node.body):
                if isinstance(inner, ast.Name) and isinstance(inner.ctx, ast.Store):
                    local.setdefault(inner.id, ("var",))
                elif isinstance(inner, (ast.Global, ast.Nonlocal)):
                    declared_global.update(inner.names)
            for name in declared_global:
                local.pop(name, None)
            self.visit_body(node.body, scopes + [local])
            return
        if isinstance(node, ast.ClassDef):
            for expr in [*node.bases, *node.decorator_list]:
                self.visit(expr, scopes)
            self.visit_body(node.body, scopes + [{}])  # class scope: methods skip it anyway
            return
        if isinstance(node, ast.Call):
            self.call(node, scopes)
        for child in ast.iter_child_nodes(node):
            self.visit(child, scopes)

    def lookup(self, name: str, scopes: list[dict]) -> Definition | str | None:
        for scope in reversed(scopes):
            if name in scope:
                return self.repo.resolve_binding(scope[name], set())
        for star in self.module.stars:
            found = self.repo.member(star, name, set())
            if found is not None:
                return found
        return None

    def target(self, expr: ast.expr, scopes: list[dict]) -> Definition | str | None:
        if isinstance(expr, ast.Name):
            return self.lookup(expr.id, scopes)
        if isinstance(expr, ast.Attribute):
            owner = self.target(expr.value, scopes)
            if isinstance(owner, str):
                return self.repo.member(owner, expr.attr, set())
        return None

    def call(self, node: ast.Call, scopes: list[dict]) -> None:
        func = node.func
        if not isinstance(func, (ast.Name, ast.Attribute)):
            return
        found = self.target(func, scopes)
        if not isinstance(found, Definition) or found.path == self.module.path or not found.text:
            return
        row = func.end_lineno - 1
        text = self.module.lines[row]
        col = char_col(text, func.end_col_offset)
        while col < len(text) and text[col] in " \t":
            col += 1
        if col >= len(text) or text[col] != "(":
            return  # the parenthesis is on another line: no "name(" to place a cursor after
        self.out.append(Site(self.module.path, row, col + 1, ast.unparse(func), found.path, found.line, found.text,
                             found.alternates))


def python_sites(root: Path) -> list[Site]:
    return PythonRepo(root).sites()
