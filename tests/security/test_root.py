"""Finding 2 of issue 14: without ``--root``, ``.git`` never becomes the workspace.

Before the fix, ``qwenpair complete .git/config:8:1`` (no ``--root``) fell back to the file's
folder, ``.git`` itself, as the workspace root, and sent the config (the remote URL with
its token) to the model; ``chat --file .git/config`` did the same. Now the root of a file
inside ``.git`` is the repository that holds it, the file is refused as inside a
version-control directory, and a ``--root`` inside ``.git`` is an error that says which
folder to use. The real CLI runs with ``--show-prompt`` (the exact prompt, no model).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from policy_repos import GIT_TOKEN, GITCFG_MARKER, all_output, git_init, project_code, qp, write


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = write(tmp_path / "repo", project_code(2))
    git_init(root)
    config = (root / ".git" / "config").read_text()
    assert GIT_TOKEN in config and config.count("\n") >= 8
    return root


def test_complete_in_git_config_without_root_sends_nothing(repo):
    """finding 2: ``complete .git/config:8:1`` with no --root builds no prompt: the file is
    inside a version-control directory, and the token never reaches the output."""
    res = qp("complete", f"{repo}/.git/config:8:1", "--show-prompt", cwd=repo)
    assert res.returncode == 0, res.stderr
    assert res.stdout == ""
    assert "version-control directory" in res.stderr
    assert GIT_TOKEN not in all_output(res) and GITCFG_MARKER not in all_output(res)


def test_complete_from_inside_git_dir_is_refused_too(repo):
    """finding 2: a relative path typed from inside .git is refused the same way."""
    res = qp("complete", "config:8:1", "--show-prompt", cwd=repo / ".git")
    assert res.returncode == 0, res.stderr
    assert res.stdout == "" and "version-control directory" in res.stderr
    assert GIT_TOKEN not in all_output(res)


@pytest.mark.parametrize("command", ["chat", "edit"])
def test_chat_and_edit_of_git_config_are_refused(repo, command):
    """finding 2: ``chat --file .git/config`` and ``edit .git/config`` refuse with the reason."""
    args = (("chat", "what is the remote?", "--file", repo / ".git" / "config") if command == "chat"
            else ("edit", repo / ".git" / "config", "-m", "change the remote"))
    res = qp(*args, "--show-prompt", cwd=repo)
    assert res.returncode == 2, all_output(res)
    assert "version-control directory" in res.stderr and "not sent to the model" in res.stderr
    assert GIT_TOKEN not in all_output(res) and GITCFG_MARKER not in all_output(res)


def test_a_root_inside_git_is_an_error_naming_the_folder_to_use(repo):
    """finding 2: ``--root`` inside .git is refused with a message naming the repository."""
    res = qp("complete", f"{repo}/app/util.py:2:5", "--root", repo / ".git", "--show-prompt")
    assert res.returncode == 2, all_output(res)
    assert "never a workspace" in res.stderr and f"--root {repo}" in res.stderr
    assert GIT_TOKEN not in all_output(res)


def test_the_workspace_of_a_file_in_git_is_its_repository(repo):
    """finding 2: the fallback root for a file inside .git is the folder holding .git."""
    from qwenpair.commands.complete import workspace_root

    assert workspace_root(repo / ".git" / "config") == repo.resolve()
    assert workspace_root(repo / ".git" / "refs" / "heads" / "x") == repo.resolve()
    assert workspace_root(repo / "app" / "util.py").resolve() == repo.resolve()


@pytest.mark.slow
def test_the_real_run_in_git_config_sends_nothing(repo, tiny_model):
    """finding 2: the real completion (tiny model, no --root) refuses like --show-prompt."""
    res = qp("complete", f"{repo}/.git/config:8:1", "--model", tiny_model.gguf, "--json", cwd=repo)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["prompt_tokens"] == 0 and out["candidates"] == []
    assert "version-control directory" in res.stderr and GIT_TOKEN not in all_output(res)
