"""Finding 1 of issue 14: symlinks are judged by their real target, not by their names.

A crafted repository holds links to a file outside the workspace (relative and absolute), to
a gitignored file, to ``.git/config``, a chain of links that ends outside, and a linked
directory that leads outside; beside them, a link to an allowed file inside the root (which
stays usable: the positive control). Before the fix, ``qwenpair index`` indexed the links,
``index --query`` returned the outside file's definition, and the completion prompt, chat,
edit and training samples carried the targets' text. Each test runs the real CLI, the real
index or the real training sample builder and checks that no target's marker appears.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from policy_repos import (
    GIT_TOKEN, GITCFG_MARKER, IGNORED_MARKER, OUTSIDE_MARKER, all_output, git_init, project_code, qp, write,
)

MARKERS = (OUTSIDE_MARKER, IGNORED_MARKER, GITCFG_MARKER, GIT_TOKEN)

#: link -> (target as written, the verdict reason expected for it)
LINKS = {
    "app/leaklink.py": ("../../outside/leak.py", "symlink target: outside the workspace"),
    "app/abs_leak.py": (None, "symlink target: outside the workspace"),  # absolute target, set below
    "alias.py": ("private/notes.py", "symlink target: ignored by .gitignore"),
    "gitcfg.py": (".git/config", None),  # inside .git: refused (reason differs by layer)
    "chain_a.py": ("chain_b.py", "symlink target: outside the workspace"),
    "chain_b.py": ("app/leaklink.py", "symlink target: outside the workspace"),
}


@pytest.fixture
def linked_repo(tmp_path: Path) -> Path:
    outside = write(tmp_path / "outside", {
        "leak.py": f'def outside_helper(v):\n    return "{OUTSIDE_MARKER}" + str(v)\n',
    })
    root = tmp_path / "repo"
    write(root, project_code())
    write(root, {
        ".gitignore": "private/\n",
        "private/notes.py": f'def private_helper(v):\n    return "{IGNORED_MARKER}" + str(v)\n',
    })
    git_init(root)
    for link, (target, _) in LINKS.items():
        os.symlink(target or str(outside / "leak.py"), root / link)
    os.symlink("../outside", root / "outdir")  # a linked directory leading outside
    os.symlink("util.py", root / "app" / "okalias.py")  # allowed: the target is usable
    return root


def test_policy_refuses_every_link_whose_target_is_refused(linked_repo):
    """finding 1: the policy follows each link (chained, absolute, through a linked directory)
    to its real path and refuses targets outside the root, ignored, or inside .git."""
    from repo_index import SourcePolicy

    policy = SourcePolicy(linked_repo)
    for link, (_, reason) in LINKS.items():
        verdict = policy.judge(linked_repo / link)
        assert not verdict.allowed, link
        assert verdict.action == "refused"
        if reason:
            assert verdict.reason == reason, link
        text, read_verdict = policy.read(linked_repo / link)
        assert text is None and not read_verdict.allowed, link
    assert not policy.judge(linked_repo / "outdir" / "leak.py").allowed
    assert policy.judge(linked_repo / "app" / "okalias.py").allowed  # the positive control
    assert policy.read(linked_repo / "app" / "okalias.py")[0].startswith("def scale")


def test_index_skips_the_links_and_query_never_returns_their_targets(linked_repo):
    """finding 1: ``qwenpair index`` leaves every refused link out, and ``--query`` on a line
    that calls the outside and the ignored helper returns neither definition."""
    res = qp("index", linked_repo, "--json", "--no-progress")
    assert res.returncode == 0, res.stderr
    skipped = json.loads(res.stdout)["stats"]["skipped"]
    assert skipped.get("symlink target: outside the workspace", 0) >= 4  # leaklink, abs_leak, chain_a, chain_b
    assert skipped.get("symlink target: ignored by .gitignore", 0) == 1
    assert skipped.get("symlink target: excluded directory", 0) == 1  # gitcfg.py -> .git/config
    for line, col in ((8, 9), (9, 12)):  # outside_helper(z), private_helper(w)
        res = qp("index", linked_repo, "--json", "--no-progress", "--query", f"{linked_repo}/app/main.py:{line}:{col}")
        assert res.returncode == 0, res.stderr
        out = json.loads(res.stdout)["query"]
        texts = "\n".join(s["text"] for s in out["snippets"])
        paths = {s["path"] for s in out["snippets"]}
        assert not paths & set(LINKS), paths
        for marker in MARKERS:
            assert marker not in texts
    assert "def scale" in texts  # retrieval works: the allowed definitions are there


def test_completion_prompt_never_carries_a_link_target(linked_repo):
    """finding 1: the completion prompt (``--show-prompt`` builds exactly what a completion
    sends) holds the allowed definitions and nothing from a refused link's target."""
    res = qp("complete", f"{linked_repo}/app/main.py:9:12", "--root", linked_repo, "--show-prompt")
    assert res.returncode == 0, res.stderr
    assert "<|file_sep|>app/util.py" in res.stdout or "def scale" in res.stdout
    for marker in MARKERS:
        assert marker not in all_output(res)


@pytest.mark.parametrize("link", sorted(LINKS))
def test_chat_and_edit_refuse_a_link_to_a_refused_target(linked_repo, link):
    """finding 1: chat and edit about a link whose real target is refused say so (exit 2,
    the reason named) and print none of the target's text."""
    for args in (("chat", "what is this?", "--file", linked_repo / link),
                 ("edit", linked_repo / link, "-m", "add a docstring")):
        res = qp(*args, "--root", linked_repo, "--show-prompt")
        assert res.returncode == 2, (args, all_output(res))
        assert "not sent to the model" in res.stderr
        for marker in MARKERS:
            assert marker not in all_output(res)


def test_chat_follows_an_allowed_link(linked_repo):
    """finding 1 (positive control): a link to an allowed file inside the root still works."""
    res = qp("chat", "what is this?", "--file", linked_repo / "app" / "okalias.py", "--root", linked_repo, "--show-prompt")
    assert res.returncode == 0, res.stderr
    assert "def scale" in res.stdout


def test_training_samples_never_carry_a_link_target(linked_repo):
    """finding 1: the real LoRA sample builder reads no refused link and no sample (prompt or
    masked middle) carries any target's text."""
    from training.lora_config import SampleConfig
    from training.repo_samples import build_repo_samples, source_files

    files, stats = source_files(linked_repo)
    assert not set(files) & set(LINKS)
    assert "app/okalias.py" in files  # the allowed link is an ordinary file here
    samples = build_repo_samples(linked_repo, SampleConfig(per_file=3, context_tokens=512, max_tokens=1024))
    every = samples.train + samples.heldout
    assert every
    for sample in every:
        for marker in MARKERS:
            assert marker not in sample.prompt + sample.middle
