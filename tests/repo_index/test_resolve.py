"""Import statements resolved to workspace files, per language."""

from __future__ import annotations

import pytest

from repo_index.facts import ImportStmt
from repo_index.resolve import FileSet, resolve

FILES = [
    # Python: a src layout and a flat package
    "src/app/__init__.py", "src/app/core.py", "src/app/util/__init__.py", "src/app/util/text.py",
    "scripts/run.py", "scripts/helpers.py", "tools/__init__.py", "tools/lint.py",
    # JS / TS
    "web/src/main.ts", "web/src/models.ts", "web/src/components/index.tsx", "web/src/lib/util.js",
    "web/src/api.ts", "src/alias/thing.ts",
    # Go
    "go.mod", "internal/util/mul.go", "internal/util/mul_test.go", "cmd/app/main.go",
    # Rust
    "Cargo.toml", "src/lib.rs", "src/geometry.rs", "src/geometry/point.rs", "src/helpers/mod.rs",
    "src/shapes.rs",
    # Java, C#, PHP
    "java/src/main/java/com/example/util/Helper.java", "java/src/main/java/com/example/App.java",
    "cs/Util/Helper.cs", "cs/App.cs", "php/src/Models/User.php", "php/src/Models/Post.php",
    "php/src/lib/helper.php", "php/src/index.php",
    # C/C++, Ruby, Lua
    "c/src/main.c", "c/src/util.h", "c/include/geometry/point.hpp", "rb/app.rb", "rb/lib/helper.rb",
    "lua/init.lua", "lua/lib/json.lua", "lua/util/init.lua",
]
PACKAGES = {
    "java/src/main/java/com/example/util/Helper.java": "com.example.util",
    "java/src/main/java/com/example/App.java": "com.example",
    "cs/Util/Helper.cs": "Example.Util",
    "cs/App.cs": "Example",
}


@pytest.fixture(scope="module")
def files() -> FileSet:
    texts = {"go.mod": "module example.com/project\n\ngo 1.22\n"}
    return FileSet(FILES, PACKAGES, texts.get)


CASES = [
    # language, importer, module, names, relative, expected
    ("python", "src/app/core.py", ".util.text", (), False, ["src/app/util/text.py"]),
    ("python", "src/app/util/text.py", "..", ("core",), False, ["src/app/__init__.py", "src/app/core.py"]),
    ("python", "scripts/run.py", "app.util", ("text",), False, ["src/app/util/__init__.py", "src/app/util/text.py"]),
    ("python", "scripts/run.py", "helpers", (), False, ["scripts/helpers.py"]),
    ("python", "scripts/run.py", "tools.lint", (), False, ["tools/lint.py"]),
    ("python", "scripts/run.py", "numpy", (), False, []),
    ("typescript", "web/src/main.ts", "./models", ("Thing",), False, ["web/src/models.ts"]),
    ("typescript", "web/src/main.ts", "./components", (), False, ["web/src/components/index.tsx"]),
    ("typescript", "web/src/main.ts", "./api.js", (), False, ["web/src/api.ts"]),
    ("javascript", "web/src/components/index.tsx", "../lib/util", (), False, ["web/src/lib/util.js"]),
    ("typescript", "web/src/main.ts", "@/alias/thing", (), False, ["src/alias/thing.ts"]),
    ("typescript", "web/src/main.ts", "react", (), False, []),
    ("go", "cmd/app/main.go", "example.com/project/internal/util", (), False, ["internal/util/mul.go"]),
    ("go", "cmd/app/main.go", "fmt", (), False, []),
    ("rust", "src/lib.rs", "geometry", (), True, ["src/geometry.rs"]),
    ("rust", "src/geometry.rs", "point", (), True, ["src/geometry/point.rs"]),
    ("rust", "src/shapes.rs", "crate::geometry::{Point, Line}", (), False, ["src/geometry.rs"]),
    ("rust", "src/shapes.rs", "crate::geometry::point::Point", (), False, ["src/geometry/point.rs"]),
    ("rust", "src/shapes.rs", "super::helpers::assist", (), False, ["src/helpers/mod.rs"]),
    ("rust", "src/shapes.rs", "std::collections::HashMap", (), False, []),
    ("java", "java/src/main/java/com/example/App.java", "com.example.util.Helper", (), False,
     ["java/src/main/java/com/example/util/Helper.java"]),
    ("java", "java/src/main/java/com/example/App.java", "com.example.util.Helper.compute", (), False,
     ["java/src/main/java/com/example/util/Helper.java"]),
    ("java", "java/src/main/java/com/example/App.java", "com.example.util", ("*",), False,
     ["java/src/main/java/com/example/util/Helper.java"]),
    ("java", "java/src/main/java/com/example/App.java", "java.util.List", (), False, []),
    ("csharp", "cs/App.cs", "Example.Util", (), False, ["cs/Util/Helper.cs"]),
    ("php", "php/src/index.php", "App\\Models", ("User", "Post"), False, ["php/src/Models/User.php", "php/src/Models/Post.php"]),
    ("php", "php/src/index.php", "/lib/helper.php", (), True, ["php/src/lib/helper.php"]),
    ("c", "c/src/main.c", "util.h", (), False, ["c/src/util.h"]),
    ("cpp", "c/src/main.c", "geometry/point.hpp", (), False, ["c/include/geometry/point.hpp"]),
    ("c", "c/src/main.c", "stdio.h", (), False, []),
    ("ruby", "rb/app.rb", "lib/helper", (), True, ["rb/lib/helper.rb"]),
    ("ruby", "rb/app.rb", "helper", (), False, ["rb/lib/helper.rb"]),
    ("lua", "lua/init.lua", "lib.json", (), False, ["lua/lib/json.lua"]),
    ("lua", "lua/init.lua", "util", (), False, ["lua/util/init.lua"]),
]


@pytest.mark.parametrize("language,importer,module,names,relative,expected", CASES,
                         ids=[f"{c[0]}:{c[2]}" for c in CASES])
def test_resolve(files, language, importer, module, names, relative, expected):
    assert list(resolve(language, importer, ImportStmt(0, module, names, relative), files)) == expected


def test_a_file_never_resolves_to_itself(files):
    assert resolve("python", "src/app/core.py", ImportStmt(0, ".core", (), False), files) == ()


def test_unknown_language_resolves_to_nothing(files):
    assert resolve("cobol", "x.cob", ImportStmt(0, "anything", (), False), files) == ()
