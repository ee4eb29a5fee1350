"""The "may this path be used" rules: ignore files, default excludes, secrets, file kinds."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from repo_index.rules import PathRules, PathVerdict, judge_content, may_use_path


def reasons(rules: PathRules) -> dict[str, str]:
    list(rules.walk())
    return rules.skipped


def allowed(rules: PathRules) -> list[str]:
    return [str(p.relative_to(rules.root)) for p in rules.walk()]


def test_verdict_is_a_frozen_dataclass():
    v = PathVerdict(False, "secret file")
    with pytest.raises(AttributeError):
        v.allowed = True  # type: ignore[misc]
    assert PathVerdict(True).reason == ""


def test_nested_gitignore_with_negation(make_tree):
    root = make_tree({
        ".gitignore": "*.log\n!keep.log\ngen/\n",
        "a.py": "x = 1\n",
        "debug.log": "noise\n",
        "keep.log": "kept\n",
        "gen/gen.py": "x = 1\n",
        "sub/.gitignore": "!debug.log\nlocal.py\n",
        "sub/debug.log": "re-included by the deeper file\n",
        "sub/local.py": "x = 1\n",
        "sub/main.py": "x = 1\n",
    })
    rules = PathRules(root)
    assert allowed(rules) == [".gitignore", "a.py", "keep.log", "sub/.gitignore", "sub/debug.log", "sub/main.py"]
    assert rules.skipped["debug.log"] == "ignored by .gitignore"
    assert rules.skipped["gen/"] == "ignored by .gitignore"
    assert rules.skipped["sub/local.py"] == "ignored by .gitignore"
    assert rules.check(root / "gen" / "gen.py") == PathVerdict(False, "ignored by .gitignore")


def test_our_ignore_files_override_gitignore_in_order(make_tree):
    root = make_tree({
        ".gitignore": "a.py\n",
        ".ignore": "b.py\n",
        ".aiignore": "c.py\n",
        ".qwenpairignore": "d.py\n!a.py\n",
        "a.py": "1\n", "b.py": "1\n", "c.py": "1\n", "d.py": "1\n", "e.py": "1\n",
    })
    rules = PathRules(root)
    assert rules.check("a.py").allowed  # re-included by .qwenpairignore, the last word
    assert rules.check("b.py").reason == "ignored by .ignore"
    assert rules.check("c.py").reason == "ignored by .aiignore"
    assert rules.check("d.py").reason == "ignored by .qwenpairignore"
    assert rules.check("e.py").allowed


def test_git_info_exclude_and_extra_ignores(make_tree):
    root = make_tree({".git/info/exclude": "private.py\n", "private.py": "1\n", "gen_x.py": "1\n", "ok.py": "1\n"})
    rules = PathRules(root, extra_ignores=("gen_*",))
    assert rules.check("private.py").reason == "ignored by .git/info/exclude"
    assert rules.check("gen_x.py").reason == "ignored by index settings"
    assert rules.check("ok.py").allowed


def test_default_excluded_directories(make_tree):
    root = make_tree({
        "src/app.py": "1\n",
        "node_modules/lib/index.js": "1\n",
        ".git/config": "[core]\n",
        "build/out.js": "1\n",
        "web/node_modules/x.js": "1\n",
        "myenv/pyvenv.cfg": "home = /usr\n",
        "myenv/lib/site.py": "1\n",
        "pkg.egg-info/PKG-INFO": "x\n",
        "__pycache__/a.py": "1\n",
    })
    rules = PathRules(root)
    assert allowed(rules) == ["src/app.py"]
    for d in ("node_modules/", ".git/", "build/", "web/node_modules/", "myenv/", "pkg.egg-info/", "__pycache__/"):
        assert rules.skipped[d] == "excluded directory", d
    assert rules.check("node_modules/lib/index.js").reason == "excluded directory"


@pytest.mark.parametrize("name", [
    ".env", ".env.local", "prod.env", "server.pem", "tls.key", "id_rsa", "id_rsa.pub", "id_ed25519",
    "credentials.json", "gcp-credentials.json", "client_secret_123.json", ".npmrc", ".netrc",
    "secrets.yaml", "keystore.jks", "terraform.tfstate",
])
def test_secret_files_by_name(make_tree, name):
    root = make_tree({name: "anything\n"})
    assert may_use_path(root, root / name) == PathVerdict(False, "secret file")
    assert may_use_path(None, root / name) == PathVerdict(False, "secret file")


def test_secret_files_by_content(make_tree):
    key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n"
    root = make_tree({
        "notes.txt": key,
        "sa.json": '{"type": "service_account", "project_id": "p", "private_key": "x"}',
        "package.json": '{"name": "fine", "version": "1.0.0"}',
        "environment.py": "ENV = 1\n",  # looks like .env but is not
    })
    rules = PathRules(root)
    assert rules.check("notes.txt").reason == "secret file"
    assert rules.check("sa.json").reason == "secret file"
    assert rules.check("package.json").allowed
    assert rules.check("environment.py").allowed


def test_secret_link_target_is_judged(make_tree, tmp_path):
    outside = tmp_path / "home" / ".ssh"
    outside.mkdir(parents=True)
    (outside / "id_rsa").write_text("key material\n")
    root = make_tree({"a.py": "1\n"})
    os.symlink(outside / "id_rsa", root / "innocent.txt")
    assert PathRules(root).check("innocent.txt") == PathVerdict(False, "secret file")


def test_file_kinds_size_binary_minified_generated(make_tree):
    root = make_tree({
        "big.py": "x = 1\n" * 200_000,
        "blob.dat.txt": b"abc\0def",
        "image.png": b"\x89PNG",
        "app.min.js": "var a=1;",
        "bundle.js": "var a=1;" * 2000,  # one long line: minified
        "gen_pb2.py": "# Generated by the protocol buffer compiler.  DO NOT EDIT!\nx = 1\n",
        "yarn.lock": "# yarn lockfile v1\n",
        "ok.py": "# this module mentions generated code in prose, far below\n" + "x = 1\n" * 10,
        "empty.py": "",
    })
    rules = PathRules(root, max_bytes=100_000)
    got = reasons(rules)
    assert got == {
        "big.py": "too large", "blob.dat.txt": "binary", "image.png": "binary", "app.min.js": "minified",
        "bundle.js": "minified", "gen_pb2.py": "generated", "yarn.lock": "generated",
    }
    assert rules.check("ok.py").allowed and rules.check("empty.py").allowed


def test_judge_content_edge_cases():
    assert judge_content("a.py", b"") == ""
    assert judge_content("a.py", b"x = 1\n" * 1000) == ""
    assert judge_content("a.py", b"x" * 3000) == "minified"
    assert judge_content("a.c", b"// Code generated by protoc-gen-go. DO NOT EDIT.\n") == "generated"


def test_a_200_mb_file_is_judged_without_reading_it(make_tree):
    root = make_tree({})
    with open(root / "huge.txt", "wb") as f:
        f.truncate(200 * 1024 * 1024)  # sparse: 200 MB of size, no disk used
    assert may_use_path(root, root / "huge.txt") == PathVerdict(False, "too large")


def test_symlinks_loops_and_dirs(make_tree):
    root = make_tree({"real/a.py": "1\n"})
    os.symlink("loop_b", root / "loop_a")
    os.symlink("loop_a", root / "loop_b")
    os.symlink("missing.py", root / "dangling.py")
    os.symlink("real", root / "linked_dir")
    os.symlink(root, root / "real" / "up")  # a directory loop through the root
    os.symlink("real/a.py", root / "alias.py")
    rules = PathRules(root)
    assert allowed(rules) == ["alias.py", "real/a.py"]
    assert rules.skipped["loop_a"] == "symlink loop"
    assert rules.skipped["dangling.py"] == "broken symlink"
    assert rules.skipped["linked_dir"] == "symlinked directory"
    assert rules.skipped["real/up"] == "symlinked directory"


def test_special_files_and_unreadable(make_tree):
    root = make_tree({"ok.py": "1\n"})
    os.mkfifo(root / "pipe.py")
    assert PathRules(root).check("pipe.py") == PathVerdict(False, "not a regular file")
    assert may_use_path(root, root / "nothing_here.py") == PathVerdict(False, "vanished")
    assert may_use_path(root, root) == PathVerdict(False, "not a regular file")


_UNREADABLE_CHECK = """
import json, os, sys
from repo_index.rules import may_use_path

root, uid = sys.argv[1], int(sys.argv[2])
if os.geteuid() == 0:  # root reads any file: judge as an ordinary user would
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
verdicts = {name: may_use_path(root, os.path.join(root, name)) for name in ("readable.py", "secret_mode.py")}
print(json.dumps({name: [v.allowed, v.reason] for name, v in verdicts.items()}))
"""


def test_unreadable_file():
    # The check runs in a subprocess that, under root (as in CI), drops to an unprivileged
    # uid first. The tree lives in a directory that uid can enter (pytest's own temp dir
    # is private to its user), next to a readable file that shows it can.
    root = tempfile.mkdtemp(prefix="qwenpair-unreadable-")
    try:
        os.chmod(root, 0o755)
        for name, mode in (("readable.py", 0o644), ("secret_mode.py", 0o000)):
            path = os.path.join(root, name)
            with open(path, "w") as f:
                f.write("x = 1\n")
            os.chmod(path, mode)
        try:
            uid = pwd.getpwnam("nobody").pw_uid
        except KeyError:
            uid = 65534
        out = subprocess.run([sys.executable, "-c", _UNREADABLE_CHECK, root, str(uid)], capture_output=True,
                             text=True, check=True).stdout
        assert json.loads(out) == {"readable.py": [True, ""], "secret_mode.py": [False, "unreadable"]}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_unicode_spaces_and_undecodable_names(make_tree):
    root = make_tree({"dir with space/naïve ünïcode.py": "x = 1\n", "日本/コード.py": "y = 2\n"})
    bad = os.fsencode(str(root)) + b"/bad\xff.py"
    with open(bad, "wb") as f:
        f.write(b"z = 3\n")
    rules = PathRules(root)
    assert allowed(rules) == ["dir with space/naïve ünïcode.py", "日本/コード.py"]
    assert [r for r, why in rules.skipped.items() if why == "undecodable file name"]


def test_outside_the_root_only_secret_kind_and_size_rules_apply(make_tree, tmp_path):
    root = make_tree({".gitignore": "*.py\n", "in.py": "1\n"})
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "x.py").write_text("1\n")
    (other / ".env").write_text("A=1\n")
    assert may_use_path(root, root / "in.py").reason == "ignored by .gitignore"
    assert may_use_path(root, other / "x.py").allowed
    assert may_use_path(root, other / ".env").reason == "secret file"
    assert may_use_path(None, other / "x.py").allowed


def test_reload_sees_a_changed_ignore_file(make_tree):
    root = make_tree({"a.py": "1\n"})
    rules = PathRules(root)
    assert rules.check("a.py").allowed
    (root / ".qwenpairignore").write_text("a.py\n")
    rules.reload()
    assert rules.check("a.py").reason == "ignored by .qwenpairignore"


# -- property: our ignore decisions are git's -------------------------------------------

_SEGMENTS = ["src", "lib", "doc", "a", "b"]
_FILES = ["x.py", "y.txt", "z.log", "keep.log", "a.py"]
_PATTERNS = [
    "*.log", "!keep.log", "*.py", "!a.py", "src/", "/src", "lib", "doc/*.txt", "**/b/*.py", "a/",
    "!src/", "!lib/x.py", "/*.txt", "b", "!*.txt", "a/**/z.log", "\\!odd", "# comment", "", "x.py",
]


@st.composite
def trees(draw):
    files = draw(st.lists(
        st.tuples(st.lists(st.sampled_from(_SEGMENTS), max_size=3), st.sampled_from(_FILES)),
        min_size=1, max_size=12))
    paths = sorted({"/".join([*dirs, name]) for dirs, name in files})
    dirs = sorted({p.rsplit("/", 1)[0] for p in paths if "/" in p} | {""})
    ignores = {}
    for d in draw(st.lists(st.sampled_from(dirs), min_size=1, max_size=3, unique=True)):
        ignores[f"{d}/.gitignore" if d else ".gitignore"] = "\n".join(
            draw(st.lists(st.sampled_from(_PATTERNS), min_size=1, max_size=5))) + "\n"
    return paths, ignores


@pytest.mark.skipif(shutil.which("git") is None, reason="needs the git executable as the oracle")
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=trees())
# Found by this test: a negated directory pattern deeper down ("!src/") must not re-include
# a directory that an outer rule excludes ("b") just because it lies below a "src".
@example(case=(["src/src/b/x.py", "src/x.py"], {".gitignore": "b\n", "src/.gitignore": "!src/\n"}))
def test_gitignore_semantics_match_git(tmp_path_factory, writer, case):
    paths, ignores = case
    root = tmp_path_factory.mktemp("gi")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    writer(root, {**{p: "text\n" for p in paths}, **ignores})
    out = subprocess.run(
        ["git", "check-ignore", "--no-index", "--stdin", "-v", "-n"], cwd=root,
        input="\n".join(paths) + "\n", capture_output=True, text=True,
    ).stdout
    git_ignored = set()
    for line in out.splitlines():
        source, _, path = line.partition("\t")
        pattern = source.split(":", 2)[-1] if source != "::" else ""
        if pattern and not pattern.startswith("!"):
            git_ignored.add(path)
    rules = PathRules(root)
    ours = {p for p in paths if rules.check(p).reason.startswith("ignored by")}
    assert ours == git_ignored, (ignores, paths)
