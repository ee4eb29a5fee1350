"""Issue 16: the repository part of the prompt is packed by value per token, and explained.

Counts use the real Qwen2.5 tokenizer. The packer admits every definition's short form
first, then fuller texts by tier, so a 700-token class that is only imported never pushes
out the definitions in use (the old packer took snippets in path order until the budget
ran out). ``qwenpair complete --show-prompt --explain`` is run as a user runs it.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from assistant.context import ContextBuilder
from assistant.document import clamp_cursor
from repo_index import Snippet


@pytest.fixture(scope="module")
def count():
    from model.backends.tokenizer_only import TokenizerOnlyBackend

    backend = TokenizerOnlyBackend(4096)
    return lambda text: len(backend.tokenize(text)) if text else 0


def big_class() -> Snippet:
    body = "".join(f"    def method_{i}(self, value: int) -> int:\n        return value * {i} + self.offset\n\n"
                   for i in range(40))
    text = f"class Adapter:\n    \"\"\"Sends requests.\"\"\"\n\n{body}"
    return Snippet("aaa/adapters.py", 0, text.count("\n"), text, 15.0, "definition",
                   "definition of `Adapter`, tier 4 (only imported)", "Adapter", 4, "import",
                   "class Adapter:\n    \"\"\"Sends requests.\"\"\"\n    ...")


def in_use(i: int) -> Snippet:
    text = f"def hook_{i}(event: str, payload: dict) -> bool:\n    \"\"\"Dispatch {i}.\"\"\"\n    return bool(payload)"
    return Snippet(f"zzz/hooks_{i}.py", 10, 13, text, 50.0 - i, "definition",
                   f"definition of `hook_{i}`, tier {min(i, 2)}", f"hook_{i}", min(i, 2), "import")


def test_five_definitions_in_use_are_never_pushed_out_by_a_large_class(count):
    builder = ContextBuilder(count)
    big = big_class()
    assert count(big.text) > 600
    small = [in_use(i) for i in range(5)]
    snippets = [big, *small]  # the big one first: the old packer took it first and stopped
    text = "import x\n\nhook_0("
    cursor = clamp_cursor(text, 2, 7)
    budget = sum(count(s.text) + 4 for s in small) + count(big.brief) + 4 + 20
    parts = builder.build(repo_name="r", rel_path="app.py", text=text, cursor=cursor, snippets=snippets,
                          budget=2048, repo_budget=budget)
    prompt = str(parts.prompt)
    for s in small:
        assert s.text in prompt
    assert "class Adapter:" in prompt and "def method_3" not in prompt  # its signature only
    [entry] = [e for e in parts.explain if e.source.startswith("aaa/adapters.py")]
    assert entry.kind == "snippet" and "signature only" in entry.reason and entry.tokens == count(big.brief) + 4
    # with room, the large class comes whole
    roomy = builder.build(repo_name="r", rel_path="app.py", text=text, cursor=cursor, snippets=snippets,
                          budget=4096, repo_budget=2000)
    assert "def method_39" in str(roomy.prompt)
    # with no room for all signatures, the highest tiers stay and the rest are explained
    tight = builder.build(repo_name="r", rel_path="app.py", text=text, cursor=cursor, snippets=snippets,
                          budget=2048, repo_budget=count(small[0].text) + 8)
    assert small[0].text in str(tight.prompt) and "hook_4" not in str(tight.prompt)
    dropped = [e for e in tight.explain if e.kind == "budget"]
    assert len(dropped) == 5 and all("over the cross-file budget" in e.reason and e.tokens > 0 for e in dropped)


def test_complete_explain_lists_tier_resolution_tokens_and_refused_files(tmp_path):
    (tmp_path / ".gitignore").write_text("private_conf.py\n")
    (tmp_path / "private_conf.py").write_text("def load_token():\n    return 'secret'\n")
    (tmp_path / "lib.py").write_text("def dispatch_hook(key, hooks):\n    \"\"\"Run the hooks.\"\"\"\n    return hooks\n\n\n"
                                     "def dispatch_hook_too():\n    pass\n")
    (tmp_path / "decoy.py").write_text("def dispatch_hook(a):\n    return 'wrong one'\n")
    app = tmp_path / "app.py"
    app.write_text("from lib import dispatch_hook\nfrom private_conf import load_token\n\n\n"
                   "def send(r):\n    token = load_token()\n    return dispatch_hook(\n")
    res = subprocess.run([sys.executable, "-m", "qwenpair", "complete", f"{app}:7:25", "--show-prompt",
                          "--root", str(tmp_path), "--explain"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "<|file_sep|>lib.py\ndef dispatch_hook(key, hooks):" in res.stdout
    assert "return 'secret'" not in res.stdout
    # the same-named function elsewhere may come as similar code, never as the definition
    assert not [line for line in res.stderr.splitlines() if line.startswith("[snippet] decoy.py") and "definition:" in line]
    [hook] = [line for line in res.stderr.splitlines() if line.startswith("[snippet] lib.py:1-3")]
    assert "tier 0 (called or typed at the cursor)" in hook and "resolved by import" in hook and "tokens)" in hook
    [refused] = [line for line in res.stderr.splitlines() if line.startswith("[dropped] private_conf.py")]
    assert "never used (ignored by .gitignore)" in refused
