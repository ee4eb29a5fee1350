"""Finding 3 of issue 14: secrets inside ordinary files, found anywhere in the text.

A private key or AWS keys sit in ``app/keydata.py`` at offset 0, 5 KB, 20 KB and 200 KB.
Before the fix only the first 8 KB were sniffed for most readers and only private keys were
looked for: ``chat --file app/keydata.py`` and LSP chat sent the file, AWS keys were
indexed, and training samples carried keys past the first 8 KB. Now one function
(``repo_index.secrets.find_secret``) scans the whole text for every reader, and the policy
refuses the whole file, saying so ("secret file: contains ... (line N)"), never redacting.
"""

from __future__ import annotations

import json
import sys
from unittest.mock import patch
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy_repos import (
    AWS_KEY_ID, AWS_KEYS, AWS_SECRET, KEY_MARKER, PRIVATE_KEY, all_output, filler, project_code, qp, write,
)

OFFSETS = (0, 5_000, 20_000, 200_000)
KINDS = {"private key": (PRIVATE_KEY, (KEY_MARKER,)), "aws keys": (AWS_KEYS, (AWS_KEY_ID, AWS_SECRET))}


def keyed_text(kind: str, offset: int) -> str:
    secret = KINDS[kind][0]
    block = f'KEY_DATA = """\n{secret}"""\n\n\n'
    return filler(offset, "before") + block + filler(2_000, "after")


@pytest.fixture(params=[(k, o) for k in KINDS for o in OFFSETS], ids=lambda p: f"{p[0]}@{p[1]}")
def keyed_repo(request, tmp_path: Path):
    kind, offset = request.param
    root = write(tmp_path / "repo", project_code(4))
    text = keyed_text(kind, offset)
    assert text.index(KINDS[kind][1][0]) >= offset
    (root / "app" / "keydata.py").write_text(text)
    return root, KINDS[kind][1]


def test_one_function_finds_every_shape_anywhere():
    """finding 3: the content rule scans the whole text, at any offset, str or bytes."""
    from repo_index import find_secret

    for kind in KINDS:
        for offset in OFFSETS:
            text = keyed_text(kind, offset)
            found = find_secret(text)
            assert found is not None and find_secret(text.encode()) == found
            assert found.line >= text[:offset].count("\n")
            assert KEY_MARKER not in found.describe() and AWS_SECRET not in found.describe()
    tokens = {
        "a GitHub token": "token = 'ghp_" + "A1b2" * 9 + "'",
        "a Slack token": "SLACK = 'xoxb-1234567890-abcdefghijkl'",
        "credential JSON": '{"type": "service_account", "project_id": "p"}',
        "a password in a URL": "remote = https://bob:Zx81kfP03mQ@git.example.com/team/app.git",
    }
    for kind, text in tokens.items():
        assert find_secret(filler(30_000) + text).kind == kind


def test_ordinary_code_is_not_a_secret():
    """finding 3 (false positives): placeholders and code that only names credentials pass."""
    from repo_index import find_secret

    for text in (
        "def load(private_key, client_secret):\n    return private_key\n",
        "EXAMPLE = 'AKIAIOSFODNN7EXAMPLE'  # AWS's documented placeholder\n",
        "url = 'postgres://postgres:postgres@localhost/db'\nother = 'https://user:password@host'\n",
        "fmt = 'https://{user}:{password}@{host}'\n",
        'config = {"refresh_token": "my_refresh_token"}\n',
        "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqh\n-----END PUBLIC KEY-----\n",
    ):
        assert find_secret(text) is None, text
    own = Path(__file__).resolve().parents[2]
    for module in ("repo_index/secrets.py", "repo_index/policy.py", "repo_index/rules.py"):
        assert find_secret((own / module).read_bytes()) is None, module  # the code that describes them


def test_policy_refuses_the_document_and_says_why(keyed_repo):
    """finding 3: the policy refuses the whole text (action "refused"), naming the secret
    kind and line, never the secret."""
    from repo_index import SourcePolicy

    root, markers = keyed_repo
    path = root / "app" / "keydata.py"
    policy = SourcePolicy(root)
    verdict = policy.judge(path, path.read_text())
    assert not verdict.allowed and verdict.action == "refused" and verdict.reason == "secret file"
    assert "contains" in verdict.detail and "line" in verdict.detail
    assert not any(m in verdict.message() for m in markers)
    assert policy.read(path) == (None, verdict)


def test_chat_and_edit_refuse_a_file_with_a_key(keyed_repo):
    """finding 3: ``chat --file`` and ``edit`` refuse the file (exit 2, the reason named)."""
    root, markers = keyed_repo
    for args in (("chat", "what is this?", "--file", root / "app" / "keydata.py"),
                 ("edit", f"{root}/app/keydata.py:1-2", "-m", "add a docstring")):
        res = qp(*args, "--root", root, "--show-prompt")
        assert res.returncode == 2, all_output(res)[-2000:]
        assert "secret file" in res.stderr and "not sent to the model" in res.stderr
        assert not any(m in all_output(res) for m in markers)


def test_completion_in_a_file_with_a_key_sends_nothing(keyed_repo):
    """finding 3: no completion prompt is built in a file that holds a key."""
    root, markers = keyed_repo
    res = qp("complete", f"{root}/app/keydata.py:3:5", "--root", root, "--show-prompt")
    assert res.returncode == 0, res.stderr
    assert res.stdout == "" and "secret file" in res.stderr
    assert not any(m in all_output(res) for m in markers)


def test_index_skips_it_and_retrieval_never_shows_it(keyed_repo):
    """finding 3: the index leaves the file out (AWS keys too), so no snippet shows it."""
    root, markers = keyed_repo
    (root / "app" / "use.py").write_text("from app.keydata import before_1\n\n\ndef go():\n    return before_1(2)\n")
    res = qp("index", root, "--json", "--no-progress", "--query", f"{root}/app/use.py:5:12")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert "app/keydata.py" not in {s["path"] for s in out["query"]["snippets"]}
    assert not any(m in res.stdout for m in markers)
    stats = json.loads(qp("index", root, "--json", "--no-progress").stdout)["stats"]
    assert stats["skipped"].get("secret file") == 1


def test_training_never_sees_the_key(keyed_repo):
    """finding 3: the LoRA sample builder drops the file (key past 8 KB included), and no
    sample carries the key; the data pipeline's source reader drops it too."""
    from collections import Counter

    from training.data.sources import iter_documents, parse_source
    from training.lora_config import SampleConfig
    from training.repo_samples import build_repo_samples, source_files

    root, markers = keyed_repo
    files, stats = source_files(root)
    assert "app/keydata.py" not in files and stats["skipped: secret file"] == 1
    samples = build_repo_samples(root, SampleConfig(per_file=2, context_tokens=512, max_tokens=1024))
    for sample in samples.train + samples.heldout:
        assert not any(m in sample.prompt + sample.middle for m in markers)
    counts: Counter = Counter()
    docs = list(iter_documents(parse_source("code", str(root)), counts))
    assert "app/keydata.py" not in {d.path for d in docs} and counts["excluded: secret file"] == 1


@pytest.mark.slow
def test_lsp_chat_about_an_open_document_with_a_key_is_refused(tmp_path, tiny_model):
    """finding 3: LSP chat about an open document that holds a key (past 20 KB) is refused
    with the reason, and nothing of it is returned."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lsp_server"))
    from lsp_wire import Wire, server_env

    root = write(tmp_path / "repo", project_code(2))
    text = keyed_text("aws keys", 20_000)
    (root / "app" / "keydata.py").write_text(text)
    wire = Wire(server_env(tmp_path))
    try:
        wire.initialize(root, {"model": str(tiny_model.gguf), "chat_model": str(tiny_model.gguf), "n_ctx": 2048,
                               "threads": 1, "chat": {"max_answer_tokens": 8}})
        uri = wire.open(root / "app" / "keydata.py", text=text, version=1)
        wire.wait_ready()
        reply = wire.call("workspace/executeCommand", {"command": "qwenpair.chat", "arguments": [
            {"question": "what is this?", "uri": uri}]})
        assert "error" in reply and "secret file" in reply["error"]["message"], reply
        assert AWS_SECRET not in json.dumps(wire.messages) and AWS_KEY_ID not in json.dumps(wire.messages)
        ok = wire.call("workspace/executeCommand", {"command": "qwenpair.chat", "arguments": [
            {"question": "what is this?", "uri": (root / "app" / "util.py").as_uri()}]})
        assert "error" not in ok and "def scale" in ok["result"]["sent"]  # the positive control
    finally:
        wire.kill()


PIECES = [PRIVATE_KEY, AWS_KEY_ID, f"aws_secret_access_key = {AWS_SECRET}", "ghp_" + "A1b2" * 9, "AKIA", "AIza",
          "-----BEGIN ", "PRIVATE KEY-----", "https://bob:Zx81kfP03mQ@h.example", "xoxb-12345", "67890ab", "\n", " ",
          "x = 1\n", '"type": "service_account"', "QWERTYUIOPASDFGH", "A1b2" * 9, "1234567890"]


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_typing_into_a_clean_text_is_judged_as_a_full_scan_would(data):
    """finding 3 (the fast path): scanning only what changed gives the full scan's answer,
    wherever the edit lands, including a key completed across the edit's edge."""
    from repo_index import secrets
    from repo_index.secrets import find_secret, find_secret_in_change

    head = filler(data.draw(st.integers(0, 30_000)), "a") + data.draw(st.sampled_from(["", "AKIA", "ghp_", "xoxb-"]))
    old = head + filler(data.draw(st.integers(0, 20_000)), "b")
    if find_secret(old) is not None:
        return
    new = old
    for _ in range(data.draw(st.integers(1, 3))):
        # anywhere, or right after the planted fragment (a key completed across the edit's edge)
        at = data.draw(st.one_of(st.integers(0, len(new)), st.just(min(len(head), len(new)))))
        cut = data.draw(st.integers(0, 50))
        piece = data.draw(st.sampled_from(PIECES))
        new = new[:at] + piece + new[at + cut:]
    # a 1-character chunk makes the changed span exact, so only MAX_MATCH keeps it sound
    with patch.object(secrets, "_CHUNK", data.draw(st.sampled_from([1, 7, secrets._CHUNK]))):
        assert (find_secret_in_change(old, new) is None) == (find_secret(new) is None)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(PIECES), st.integers(0, 3000).map(filler), st.text(max_size=40)),
                max_size=12), st.sampled_from([1, 64]))
def test_the_gated_search_agrees_with_a_plain_search(parts, windows):
    """finding 3 (the fast path): looking for each shape only around its gate's hits finds a
    secret exactly when a plain search of the whole text does, in str and in bytes."""
    from repo_index import secrets

    text = "".join(parts)
    plain = any(regex.search(text) for _, _, regex in secrets._STR)
    with patch.object(secrets, "_MAX_WINDOWS", windows):
        assert (secrets.find_secret(text) is not None) == plain
        assert (secrets.find_secret(text.encode("utf-8", "surrogatepass")) is not None) == plain
