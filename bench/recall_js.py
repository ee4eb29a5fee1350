"""Ground truth for JavaScript/TypeScript: cross-file call sites, from tree-sitter.

Per file, its top-level bindings (``function``/``class`` declarations, ``const f = () =>``,
other variables), its imports (ES ``import`` of a name, a default or a namespace;
CommonJS ``const x = require('./x')`` and ``const {a, b: c} = require('./x')``) and its
exports (``export function``, ``export {a as b}``, ``export ... from``, ``export *``,
``export default``; ``module.exports = {...}``/``= name``, ``exports.f =``,
``module.exports.f =``). A call ``f(`` or ``ns.f(`` is a site when ``f`` resolves through
those, across relative module specifiers (``./x``, ``./x.js`` for ``x.ts``, ``./dir`` for
``dir/index``), to a declaration in ANOTHER file. A parameter or a declaration in an
enclosing function of the calling file shadows the import. Package imports
(``'lodash'``) are outside the repository and never sites.

The definition line is the line of the declared name (after any decorators).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from pathlib import Path

from bench.recall_sites import Site, line_text, source_files
from repo_index.languages import language_for, parser_for

SUFFIXES = (".js", ".mjs", ".cjs", ".jsx", ".ts", ".mts", ".cts", ".tsx")
_FUNCTIONS = {"function_declaration", "generator_function_declaration", "class_declaration",
              "abstract_class_declaration", "function_signature"}
_VALUES = {"arrow_function", "function_expression", "function", "generator_function", "class"}
_SCOPES = {"function_declaration", "generator_function_declaration", "function_expression", "function",
           "arrow_function", "method_definition", "generator_function"}
MODULE = "*module"  # what require() gives: module.exports, or the namespace of an ES module


@dataclass(frozen=True)
class Definition:
    path: str
    line: int
    text: str
    alternates: tuple[tuple[int, str], ...] = ()  # the implementation after overload signatures


@dataclass
class JsFile:
    path: str
    lines: list[str]
    root: object
    bindings: dict[str, tuple] = field(default_factory=dict)
    exports: dict[str, tuple] = field(default_factory=dict)
    stars: list[str] = field(default_factory=list)


def _text(node) -> str:
    return node.text.decode("utf-8", errors="replace") if node is not None else ""


def _string(node) -> str | None:
    if node is None or node.type not in ("string", "template_string"):
        return None
    return _text(node)[1:-1]


class JsRepo:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.files: dict[str, JsFile] = {}
        for rel in source_files(root, SUFFIXES):
            spec = language_for(rel)
            if spec is None:
                continue
            data = (root / rel).read_bytes()
            tree = parser_for(spec.grammar).parse(data)
            self.files[rel] = JsFile(rel, data.decode("utf-8", errors="replace").split("\n"), tree.root_node)
        for f in self.files.values():
            for stmt in f.root.named_children:
                self._statement(f, stmt)

    # -- module specifiers -------------------------------------------------------------------
    def module(self, importer: str, spec: str | None) -> str | None:
        if not spec or not spec.startswith("."):
            return None
        base = posixpath.normpath(posixpath.join(posixpath.dirname(importer), spec))
        if base.startswith(".."):
            return None
        stem = base
        for ext in (".js", ".mjs", ".cjs", ".jsx"):
            if base.endswith(ext):
                stem = base[: -len(ext)]  # TS writes "./x.js" for x.ts
        for candidate in [base, *(stem + s for s in SUFFIXES), *(f"{base}/index{s}" for s in SUFFIXES)]:
            if candidate in self.files:
                return candidate
        return None

    # -- bindings and exports ----------------------------------------------------------------
    def _definition(self, f: JsFile, name_node) -> tuple:
        row = name_node.start_point[0]
        return ("def", Definition(f.path, row, line_text(f.lines, row)))

    def _statement(self, f: JsFile, stmt) -> None:
        t = stmt.type
        if t == "import_statement":
            target = self.module(f.path, _string(stmt.child_by_field_name("source")))
            clause = next((c for c in stmt.named_children if c.type == "import_clause"), None)
            for c in clause.named_children if clause is not None else []:
                if c.type == "identifier":
                    f.bindings[_text(c)] = ("import", target, "default")
                elif c.type == "namespace_import":
                    ids = [x for x in c.named_children if x.type == "identifier"]
                    if ids:
                        f.bindings[_text(ids[-1])] = ("import", target, MODULE)
                elif c.type == "named_imports":
                    for s in c.named_children:
                        if s.type == "import_specifier":
                            name, alias = s.child_by_field_name("name"), s.child_by_field_name("alias")
                            f.bindings[_text(alias or name)] = ("import", target, _text(name))
        elif t == "export_statement":
            self._export(f, stmt)
        elif t in _FUNCTIONS:
            name = stmt.child_by_field_name("name")
            if name is not None:
                new = self._definition(f, name)[1]
                old = f.bindings.get(_text(name))
                if old is not None and old[0] == "def":  # TS overloads: the first signature stays the answer
                    new = Definition(f.path, old[1].line, old[1].text, old[1].alternates + ((new.line, new.text),))
                f.bindings[_text(name)] = ("def", new)
        elif t in ("lexical_declaration", "variable_declaration"):
            for d in stmt.named_children:
                if d.type == "variable_declarator":
                    self._declarator(f, d)
        elif t == "expression_statement" and stmt.named_children:
            expr = stmt.named_children[0]
            if expr.type == "assignment_expression":
                self._cjs_export(f, expr)

    def _declarator(self, f: JsFile, d) -> None:
        name, value = d.child_by_field_name("name"), d.child_by_field_name("value")
        required = self._required(f, value)
        if name is not None and name.type == "identifier":
            if required is not None:
                f.bindings[_text(name)] = required
            elif value is not None and value.type in _VALUES:
                f.bindings.setdefault(_text(name), self._definition(f, name))
            else:
                f.bindings[_text(name)] = ("var",)
        elif name is not None and name.type == "object_pattern" and required is not None and required[2] == MODULE:
            for p in name.named_children:
                if p.type == "shorthand_property_identifier_pattern":
                    f.bindings[_text(p)] = ("import", required[1], _text(p))
                elif p.type == "pair_pattern":
                    key, val = p.child_by_field_name("key"), p.child_by_field_name("value")
                    if val is not None and val.type == "identifier":
                        f.bindings[_text(val)] = ("import", required[1], _text(key))

    def _required(self, f: JsFile, value) -> tuple | None:
        """``require('./x')`` -> the module; ``require('./x').name`` -> that export."""
        if value is None:
            return None
        if value.type == "member_expression":
            inner = self._required(f, value.child_by_field_name("object"))
            if inner is not None and inner[2] == MODULE:
                return ("import", inner[1], _text(value.child_by_field_name("property")))
            return None
        if value.type == "call_expression" and _text(value.child_by_field_name("function")) == "require":
            args = value.child_by_field_name("arguments")
            first = args.named_children[0] if args is not None and args.named_children else None
            return ("import", self.module(f.path, _string(first)), MODULE)
        return None

    def _export(self, f: JsFile, stmt) -> None:
        source = self.module(f.path, _string(stmt.child_by_field_name("source")))
        decl = stmt.child_by_field_name("declaration")
        value = stmt.child_by_field_name("value")
        is_default = any(c.type == "default" for c in stmt.children)
        if decl is not None:
            self._statement(f, decl)
            if decl.type in _FUNCTIONS and decl.child_by_field_name("name") is not None:
                name = _text(decl.child_by_field_name("name"))
                f.exports["default" if is_default else name] = ("local", name)
            elif decl.type in ("lexical_declaration", "variable_declaration"):
                for d in decl.named_children:
                    n = d.child_by_field_name("name") if d.type == "variable_declarator" else None
                    if n is not None and n.type == "identifier":
                        f.exports[_text(n)] = ("local", _text(n))
            return
        if value is not None:
            name = value.child_by_field_name("name")
            if value.type == "identifier":
                f.exports["default"] = ("local", _text(value))
            elif value.type in _VALUES and name is not None:
                f.exports["default"] = self._definition(f, name)
            return
        clause = next((c for c in stmt.named_children if c.type == "export_clause"), None)
        if clause is None:
            if source is not None and any(c.type == "*" for c in stmt.children):
                ns = next((c for c in stmt.named_children if c.type == "namespace_export"), None)
                if ns is None:
                    f.stars.append(source)
                else:
                    f.exports[_text(ns.named_children[-1])] = ("import", source, MODULE)
            return
        for s in clause.named_children:
            if s.type != "export_specifier":
                continue
            name, alias = s.child_by_field_name("name"), s.child_by_field_name("alias")
            exported = _text(alias or name)
            f.exports[exported] = ("import", source, _text(name)) if source else ("local", _text(name))

    def _cjs_export(self, f: JsFile, expr) -> None:
        left, right = expr.child_by_field_name("left"), expr.child_by_field_name("right")
        target = _text(left)
        if target == "module.exports":
            if right is not None and right.type == "object":
                for p in right.named_children:
                    if p.type == "shorthand_property_identifier":
                        f.exports[_text(p)] = ("local", _text(p))
                    elif p.type == "pair":
                        key, val = p.child_by_field_name("key"), p.child_by_field_name("value")
                        if val is not None and val.type == "identifier":
                            f.exports[_text(key)] = ("local", _text(val))
                        elif val is not None:
                            f.exports[_text(key)] = self._value(f, val, key)
            elif right is not None and right.type == "identifier":
                f.exports[MODULE] = ("local", _text(right))
            elif right is not None and right.type in _VALUES:
                f.exports[MODULE] = self._value(f, right, left)
            elif right is not None:
                f.exports[MODULE] = self._required(f, right) or ("var",)
        elif target.startswith(("exports.", "module.exports.")) and left.type == "member_expression":
            prop = left.child_by_field_name("property")
            if right is not None and right.type == "identifier":
                f.exports[_text(prop)] = ("local", _text(right))
            elif right is not None:
                f.exports[_text(prop)] = self._value(f, right, prop)

    def _value(self, f: JsFile, value, name_node) -> tuple:
        if value.type in _VALUES:
            return self._definition(f, value.child_by_field_name("name") or name_node)
        return self._required(f, value) or ("var",)

    # -- resolution ----------------------------------------------------------------------------
    def resolve(self, path: str, binding: tuple | None, seen: set) -> Definition | tuple | None:
        """A binding as a ``Definition``, ("module", path), or None."""
        if binding is None:
            return None
        kind = binding[0]
        if kind == "def":
            return binding[1]
        if kind == "local":
            return self.resolve(path, self.files[path].bindings.get(binding[1]), seen)
        if kind == "import" and binding[1] is not None:
            return self.export(binding[1], binding[2], seen)
        return None

    def export(self, path: str, name: str, seen: set) -> Definition | tuple | None:
        if (path, name) in seen:  # an import cycle
            return None
        seen.add((path, name))
        f = self.files[path]
        if name in f.exports:
            return self.resolve(path, f.exports[name], seen)
        if name == MODULE:
            return ("module", path)
        if name == "default" and MODULE in f.exports:  # ES default import of a CommonJS module
            return self.resolve(path, f.exports[MODULE], seen)
        if MODULE in f.exports:  # module.exports = obj: its members
            whole = self.resolve(path, f.exports[MODULE], seen)
            if isinstance(whole, tuple) and whole[1] != path:
                return self.export(whole[1], name, seen)
            return None
        for star in f.stars:
            found = self.export(star, name, seen)
            if found is not None:
                return found
        return None

    # -- sites ---------------------------------------------------------------------------------
    def sites(self) -> list[Site]:
        out: list[Site] = []
        for f in self.files.values():
            self._walk(f, f.root, set(), out)
        return out

    def _walk(self, f: JsFile, node, shadowed: set, out: list[Site]) -> None:
        if node.type in _SCOPES:
            shadowed = shadowed | _locals(node)
        if node.type == "call_expression":
            self._call(f, node, shadowed, out)
        for child in node.named_children:
            self._walk(f, child, shadowed, out)

    def _call(self, f: JsFile, node, shadowed: set, out: list[Site]) -> None:
        func = node.child_by_field_name("function")
        args = node.child_by_field_name("arguments")
        if func is None or args is None or args.type != "arguments":
            return
        found = None
        if func.type == "identifier" and _text(func) not in shadowed:
            found = self.resolve(f.path, f.bindings.get(_text(func)), set())
        elif func.type == "member_expression":
            obj = func.child_by_field_name("object")
            if obj is not None and obj.type == "identifier" and _text(obj) not in shadowed:
                owner = self.resolve(f.path, f.bindings.get(_text(obj)), set())
                if isinstance(owner, tuple) and owner[0] == "module":
                    found = self.export(owner[1], _text(func.child_by_field_name("property")), set())
        if not isinstance(found, Definition) or found.path == f.path or not found.text:
            return
        row, col = args.start_point  # the "(": tree-sitter columns are bytes
        line = f.lines[row]
        col = len(line.encode("utf-8")[:col].decode("utf-8", errors="ignore"))
        if func.end_point[0] != row or col >= len(line) or line[col] != "(":
            return
        out.append(Site(f.path, row, col + 1, _text(func), found.path, found.line, found.text, found.alternates))


def _locals(scope) -> set[str]:
    """Parameters and declarations of one function (not of functions nested in it)."""
    names: set[str] = set()
    params = scope.child_by_field_name("parameters")
    single = scope.child_by_field_name("parameter")  # x => ...
    if single is not None and single.type == "identifier":
        names.add(_text(single))
    stack = [params] if params is not None else []
    body = scope.child_by_field_name("body")
    if body is not None:
        stack.append(body)
    while stack:
        node = stack.pop()
        if node.type == "identifier" and node.parent is not None and node.parent.type in (
                "formal_parameters", "required_parameter", "optional_parameter", "assignment_pattern",
                "variable_declarator", "array_pattern", "rest_pattern"):
            field_name = {"variable_declarator": "name", "assignment_pattern": "left"}.get(node.parent.type)
            if field_name is None or node.parent.child_by_field_name(field_name) == node:
                names.add(_text(node))
        elif node.type == "shorthand_property_identifier_pattern":
            names.add(_text(node))
        elif node.type in ("function_declaration", "class_declaration") and node.child_by_field_name("name"):
            names.add(_text(node.child_by_field_name("name")))
        if node.type in _SCOPES and node is not scope:
            continue
        stack.extend(node.named_children)
    return names


def js_sites(root: Path) -> list[Site]:
    return JsRepo(root).sites()
