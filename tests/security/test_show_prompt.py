"""Finding 9 of issue 14: ``complete --show-prompt`` applies exactly the real run's refusals.

Before the fix, ``--show-prompt`` on ``.env`` printed the file's contents as a prompt while
the real run refused it: the prompt builder (``CompletionEngine.build_prompt``) never asked
the policy. Now both ask the same policy with the same text; a refused file gives an empty
prompt and the same warning. The slow test runs the real model beside ``--show-prompt`` on
the same files and compares the two outcomes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from policy_repos import KEY_MARKER, PRIVATE_KEY, all_output, git_init, project_code, qp, write

ENV_SECRET = "sk-envsecret-8Qm2Lz"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = write(tmp_path / "repo", project_code(2))
    write(root, {
        ".env": f"API_KEY={ENV_SECRET}\nDEBUG=1\n",
        ".gitignore": "scratch/\n",
        "scratch/notes.py": "def scratch_only():\n    return 'scratch'\n",
        "app/keydata.py": f'KEY = """\n{PRIVATE_KEY}"""\n',
    })
    git_init(root)
    return root


#: file, position, the reason both runs must give (None: allowed, a prompt is built)
CASES = [
    (".env", "1:9", "secret file"),
    ("app/keydata.py", "1:3", "secret file"),
    ("scratch/notes.py", "2:5", "ignored by .gitignore"),
    (".git/config", "2:1", "version-control directory"),
    ("app/util.py", "2:12", None),
]


@pytest.mark.parametrize("rel, pos, reason", CASES, ids=[c[0] for c in CASES])
def test_show_prompt_refuses_what_the_real_run_refuses(repo, rel, pos, reason):
    """finding 9: ``--show-prompt`` on a refused file prints no prompt and names the reason."""
    res = qp("complete", f"{repo}/{rel}:{pos}", "--root", repo, "--show-prompt")
    assert res.returncode == 0, res.stderr
    if reason is None:
        assert "<|fim_middle|>" in res.stdout  # the positive control: a prompt is built
        return
    assert res.stdout == "", res.stdout
    assert reason in res.stderr
    assert ENV_SECRET not in all_output(res) and KEY_MARKER not in all_output(res)


@pytest.mark.slow
def test_show_prompt_and_the_real_run_agree(repo, tiny_model):
    """finding 9: for each file, the real run (tiny model) refuses exactly when --show-prompt
    does, with the same warning line."""
    for rel, pos, reason in CASES:
        shown = qp("complete", f"{repo}/{rel}:{pos}", "--root", repo, "--show-prompt")
        real = qp("complete", f"{repo}/{rel}:{pos}", "--root", repo, "--model", tiny_model.gguf, "--max-tokens", "4")
        assert shown.returncode == real.returncode == 0, real.stderr
        refusal = [line for line in shown.stderr.splitlines() if "no completion in" in line]
        if reason is None:
            assert not refusal and "no completion in" not in real.stderr
        else:
            assert refusal and refusal[0] in real.stderr.splitlines()
            assert ENV_SECRET not in all_output(real) and KEY_MARKER not in all_output(real)
