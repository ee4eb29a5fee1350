"""Progressive context (issue 15): the prompt sent while the full one is still growing is the
full prompt's own start, as far as growth has cached it, then the current file nearest the
cursor (``ContextBuilder.frontier``, ``layout`` and ``compose``). Counts use the real Qwen2.5
tokenizer; the real-model behaviour is in test_growth_real.py."""

from __future__ import annotations

import pytest

from assistant.context import ContextBuilder, Layout
from assistant.document import clamp_cursor
from model.prompt import repo_header
from model.registry import DEFAULT_FORMAT
from repo_index import Snippet


@pytest.fixture(scope="module")
def tokenizer():
    from model.backends.tokenizer_only import TokenizerOnlyBackend

    return TokenizerOnlyBackend(4096)


@pytest.fixture(scope="module")
def count(tokenizer):
    return lambda text: len(tokenizer.tokenize(text)) if text else 0


def _snippet(i: int) -> Snippet:
    body = "".join(f"    total_{i} += step_{k}(value)  # running sum {k}\n" for k in range(6))
    text = f"def helper_{i}(value: int) -> int:\n    total_{i} = 0\n{body}    return total_{i}"
    return Snippet(f"pkg/mod_{i}.py", 10 * i, 10 * i + 8, text, 50.0 - i, "definition",
                   f"definition of `helper_{i}`, tier 0", f"helper_{i}", 0, "call")


SOURCE = "\n".join(f"result_{i} = helper_{i % 4}(value_{i}) + offset  # line {i}" for i in range(150))


def _full(count, line: int = 120):
    builder = ContextBuilder(count)
    lines = SOURCE.split("\n")
    lines[line] = "result = helper_2("
    text = "\n".join(lines)
    cursor = clamp_cursor(text, line, len(lines[line]))
    full = builder.build(repo_name="demo", rel_path="app/main.py", text=text, cursor=cursor,
                         snippets=[_snippet(i) for i in range(5)], budget=2048, repo_budget=1024)
    return builder, full


def _cached_through(tokenizer, full, files: int, head_lines: int = 0) -> int:
    """Tokens of ``full``'s prompt up to the end of its first ``files`` context files (and then
    ``head_lines`` whole lines of the head), as the KV cache would hold them."""
    cut = len(repo_header(full.repo_name, full.files[:files]))
    if files == len(full.files):
        prompt = str(full.prompt)
        cut = prompt.index(full.head) if head_lines else cut
        cut += sum(len(line) + 1 for line in full.head.split("\n")[:head_lines])
    return len(tokenizer.tokenize(full.prompt[:cut]))


def test_the_frontier_is_counted_in_whole_files_then_whole_head_lines(count, tokenizer):
    builder, full = _full(count)
    assert len(full.files) == 5 and full.head.count("\n") > 40
    assert builder.frontier(full, 0) == (0, 0)
    for k in range(len(full.files)):
        assert builder.frontier(full, _cached_through(tokenizer, full, k)) == (k, 0)
        assert builder.frontier(full, _cached_through(tokenizer, full, k + 1) - 1)[0] == k  # one token short
    lines = full.head.split("\n")
    for m in (1, 10, 40):
        files, head = builder.frontier(full, _cached_through(tokenizer, full, 5, m) + 1)
        assert files == 5 and full.head[:head] == "".join(line + "\n" for line in lines[:m])


def test_a_composed_prompt_starts_as_the_full_one_and_keeps_the_lines_nearest_the_cursor(count, tokenizer):
    builder, full = _full(count)
    near = 150
    for layout in (Layout(0, 0, near), Layout(3, 0, near), Layout(5, 0, near), Layout(5, 200, near), Layout(5, 1200, near)):
        out = builder.compose(full, layout)
        kept = repo_header(full.repo_name, full.files[: layout.files])
        if layout.files == 5:
            kept = full.prompt[: str(full.prompt).index(full.head) + layout.head]
        assert str(out.prompt).startswith(str(kept))  # what growth cached is this prompt's start
        assert out.prompt.markers[: len(kept.markers)] == kept.markers
        assert out.middle_start == full.middle_start == "result = helper_2("
        assert out.head.endswith(full.head.split("\n")[-2] + "\n")  # the line before the cursor's
        assert full.suffix.startswith(out.suffix)
        new = len(tokenizer.tokenize(out.prompt)) - len(tokenizer.tokenize(kept))
        assert near - 45 <= new <= near + 4, (layout, new)  # the near part fits its budget
        assert out.stable_len == len(out.prompt) - len(out.middle_start)


def test_a_cold_layout_keeps_the_cross_file_share_and_the_rest_goes_to_the_cursor(count, tokenizer):
    builder, full = _full(count)
    layout = builder.layout(full, 0, 400, 0.5)
    files_tokens = len(tokenizer.tokenize(repo_header(full.repo_name, full.files[: layout.files]))) - 3
    assert 1 <= layout.files < 5 and files_tokens <= 200 and layout.head == 0
    assert not layout.grown  # nothing cached: the engine sends a cold prompt packed for its budget instead
    assert builder.layout(full, _cached_through(tokenizer, full, 2), 400, 0.5).grown
    out = builder.compose(full, layout)
    assert len(tokenizer.tokenize(out.prompt)) <= 400 + 8
    grown = builder.layout(full, _cached_through(tokenizer, full, 5, 30) + 1, 150, 0.5)
    assert grown.files == 5 and grown.head > 0 and grown.near == 150  # all grown: the near part gets it all


def test_the_explanation_lists_the_kept_files_only_and_the_lines_left_out(count):
    builder, full = _full(count)
    out = builder.compose(full, Layout(5, 400, 120))
    local = [e for e in out.explain if e.kind == "local"]
    assert len(local) == 1 and "left out until the prompt grows" in local[0].reason
    assert local[0].source.startswith("app/main.py:") and " grown, " in local[0].source
    partial = builder.compose(full, Layout(2, 0, 120))
    shown = {e.source.split(":")[0] for e in partial.explain if e.kind == "snippet"}
    assert shown == {f.path for f in full.files[:2]}


def test_only_the_prefix_first_layout_composes(count):
    from dataclasses import replace

    assert ContextBuilder(count).can_compose()
    assert not ContextBuilder(count, naive_layout=True).can_compose()
    assert not ContextBuilder(count, fmt=replace(DEFAULT_FORMAT, fim_mode="spm")).can_compose()
