"""Next-edit samples from git history (training/nes_samples.py): the server's prompts token for
token, the time split without lookahead, and the bad input that is counted and kept out.

Real parts: git (a history written with fast-import), the server's edit history and next-edit
engine on the tiny model in llama.cpp for the parity check, the workspace's source policy.
"""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from assistant.edit_history import EditHistory, split_lines
from assistant.next_edit import NextEditConfig, NextEditEngine, window_changes
from assistant.next_edit_eval import cases_from_git, parse_hunks
from assistant.retrieval import PromptPolicy
from model.backends.llama_cpp import LlamaCppBackend
from model.nes_prompt import parse_answer, window_bounds
from model.prompt import marker
from model.tokens import FILE_SEP
from tests.training.history_repo import GITHUB_TOKEN, IGNORED, SECRET_ENV, make_history
from training.errors import DataError
from training.lora_config import NesSampleConfig

CFG = NesSampleConfig(heldout_share=0.25, max_files_per_commit=6, max_tokens=1024)


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> Path:
    return make_history(tmp_path_factory.mktemp("history") / "proj")


@pytest.fixture(scope="module")
def built(history):
    from training.nes_samples import build_nes_samples

    return build_nes_samples(history, CFG)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


class Recording:
    """The tiny model, recording the requests the engine sends (generation cut to one token)."""

    def __init__(self, backend: LlamaCppBackend) -> None:
        self.inner, self.requests = backend, []
        self.prompt_format = backend.prompt_format

    def tokenize(self, text: str) -> list[int]:
        return self.inner.tokenize(text)

    def generate(self, request, *, cancel=None, on_text=None):
        self.requests.append(request)
        return self.inner.generate(replace(request, max_tokens=1), cancel=cancel)


def test_samples_are_the_servers_next_edit_prompts_token_for_token(tiny_model, history, built):
    """For each sample: the file at the commit's parent is opened in the server's edit history,
    each earlier hunk of the commit arrives as one document change, and the engine asks the
    model for the next edit at the sample's cursor; what it sends is the sample's prompt."""
    backend = LlamaCppBackend(tiny_model.gguf, n_ctx=2048, n_threads=2)
    try:
        recording = Recording(backend)
        checked = 0
        for sample in built.train[::3] + built.heldout[::3]:
            before = git(history, "show", f"{sample.commit}^:{sample.path}")
            hunks = parse_hunks(git(history, "show", "--format=", "-U0", "--no-color", sample.commit, "--", sample.path))
            hunks = hunks[sample.path]
            history_ = EditHistory(PromptPolicy(history))
            path = history / sample.path
            history_.open(path, before)
            lines, shift = split_lines(before), 0
            for h in hunks[: sample.edits]:
                at = h.old_start + shift
                lines = lines[:at] + list(h.new) + lines[at + len(h.old):]
                shift += len(h.new) - len(h.old)
                history_.update(path, "".join(f"{s}\n" for s in lines))
            engine = NextEditEngine(recording, history_, NextEditConfig(prompt_lookup=False), root=history)
            engine.suggest(path, "".join(f"{s}\n" for s in lines), sample.cursor_line)
            sent = recording.requests[-1].prompt
            assert sent == sample.prompt and sent.pieces == sample.prompt.pieces
            ids = list(sample.ids)
            assert backend.tokenize(sent) == ids[: sample.n_prompt]  # llama.cpp's tokens
            assert backend.tokenize(sample.answer) == ids[sample.n_prompt:-1]
            assert backend.tokenize(marker(FILE_SEP)) == ids[-1:]  # the answer ends the block
            checked += 1
        assert checked >= 6
    finally:
        backend.close()


def test_single_edit_samples_are_the_cases_of_eval_nes(history, built):
    """A sample after one edit targets exactly the edits ``qwenpair eval nes`` expects there."""
    cases = {(c.commit, c.path, c.cursor_line): c for c in cases_from_git(history, PromptPolicy(history), limit=1000)}
    firsts = [s for s in built.train + built.heldout if s.edits == 1]
    assert len(firsts) >= 10
    for sample in firsts:
        case = cases[(sample.commit, sample.path, sample.cursor_line)]
        lines = split_lines(case.current)
        start, end = window_bounds(len(lines), sample.cursor_line)
        window = lines[start:end]
        updated, why = parse_answer(sample.answer, "sweep")
        assert not why
        assert tuple(window_changes(window, updated, start)) == case.expected


def test_later_hunks_see_every_earlier_hunk_as_a_recent_edit(built):
    multi = [s for s in built.train if s.edits == 2]
    assert multi
    for s in multi:
        assert s.prompt.count(".diff\noriginal:\n") == 2


def test_the_newest_commits_are_held_out_with_no_lookahead(history, built, tmp_path):
    times = dict(line.split() for line in git(history, "log", "--format=%H %ct").splitlines())
    assert built.heldout and len(built.train) >= 8
    assert all(int(times[s.commit]) < built.cutoff for s in built.train)
    assert all(int(times[s.commit]) >= built.cutoff for s in built.heldout)
    newest = sorted(times, key=lambda c: -int(times[c]))[: round(len(times) * CFG.heldout_share)]
    assert set(built.heldout_commits) == set(newest)
    # the training samples are what the history up to the cut alone gives: nothing after it is read
    from training.nes_samples import build_nes_samples

    cut = tmp_path / "proj"
    subprocess.run(["git", "clone", "-q", str(history), str(cut)], check=True)
    git(cut, "reset", "-q", "--hard", built.train_head)
    alone = build_nes_samples(cut, CFG, require=False)
    assert {str(s.prompt) + s.answer for s in built.train} <= {str(s.prompt) + s.answer for s in alone.train + alone.heldout}
    # files changed since the cut: what FIM samples trained beside these must hold out
    at_cut = set(git(history, "ls-tree", "-r", "--name-only", built.train_head).split())
    now = set(git(history, "ls-files").split())
    differ = {p for p in at_cut | now if p not in at_cut or p not in now
              or subprocess.run(["git", "-C", str(history), "show", f"{built.train_head}:{p}"], capture_output=True,
                                check=True).stdout != (history / p).read_bytes()}
    assert differ and set(built.changed_since) == differ  # side.py came in with the held-out merge


def test_bad_input_is_counted_and_never_enters_a_sample(built):
    stats = built.stats
    assert stats["skipped: merge commit"] == 1
    assert stats["skipped: commit over 6 files"] == 2  # the first commit (7 files) and the bulk one (8)
    assert stats["skipped: renamed file"] == 2
    assert stats["skipped: binary diff"] == 1  # logo.png changed beside the token
    assert stats["skipped: ignored by .gitignore"] == 1
    assert stats["skipped: secret file"] == 3  # .env by name; m1.py with a token added, then removed
    for s in built.train + built.heldout:
        text = str(s.prompt) + s.answer
        assert GITHUB_TOKEN not in text and "ghp_" not in text
        assert SECRET_ENV not in text and IGNORED not in text
        assert s.path.startswith("pkg/m") and s.path != "pkg/m2b.py"


def test_too_little_history_says_what_is_needed(tmp_path, history):
    from training.nes_samples import build_nes_samples

    short = tmp_path / "short"
    subprocess.run(["git", "clone", "-q", str(history), str(short)], check=True)
    first_three = git(short, "rev-list", "--reverse", "HEAD").split()[2]
    git(short, "reset", "-q", "--hard", first_three)
    with pytest.raises(DataError, match="training needs at least 8 training samples"):
        build_nes_samples(short, CFG)
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(DataError, match="not a git repository"):
        build_nes_samples(plain, CFG)
