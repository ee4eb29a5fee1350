"""Golden FIM and repo-level samples: the training text is what model.prompt builds for the
same inputs (the formatter inference uses), plus the middle and <|endoftext|>."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

from model.prompt import RepoFile, fim, repo_completion, repo_fim, split_current_line
from model.tokens import ENDOFTEXT, ENDOFTEXT_ID, FILE_SEP, FIM_MIDDLE, FIM_MIDDLE_ID, FIM_PREFIX, FIM_PREFIX_ID, FIM_SUFFIX, FIM_SUFFIX_ID, REPO_NAME
from tests.training.conftest import SAMPLE_REPO
from training.data.fim import FimConfig, fim_sample, file_sample, node_span, split_span
from training.data.repo_samples import repo_sample
from training.data.sources import Document

SOURCE = "def add(a, b):\n    total = a + b\n    return total\n\n\nprint(add(1, 2))\n"


def test_psm_and_spm_samples_are_golden():
    prefix, middle, suffix = "def add(a, b):\n", "    total = a + b\n", "    return total\n"
    assert fim_sample(prefix, middle, suffix, "psm") == (
        "<|fim_prefix|>def add(a, b):\n<|fim_suffix|>    return total\n<|fim_middle|>    total = a + b\n<|endoftext|>"
    )
    assert fim_sample(prefix, middle, suffix, "spm") == (
        "<|fim_suffix|>    return total\n<|fim_prefix|>def add(a, b):\n<|fim_middle|>    total = a + b\n<|endoftext|>"
    )
    for mode in ("psm", "spm"):
        assert fim_sample(prefix, middle, suffix, mode) == fim(prefix, suffix, mode=mode) + middle + ENDOFTEXT


def test_file_samples_are_model_prompt_plus_middle_for_every_span_kind():
    for span in ("chars", "lines", "node"):
        cfg = FimConfig(rate=1.0, spm_rate=0.5, span=span)
        modes = Counter()
        for seed in range(40):
            stats = Counter()
            sample = file_sample(SOURCE, "python", random.Random(seed), cfg, stats)
            mode = "psm" if stats["psm"] else "spm"
            modes[mode] += 1
            rng = random.Random(seed)
            rng.random()  # the FIM-or-not draw
            prefix, middle, suffix = split_span(SOURCE, "python", rng, cfg, Counter())
            assert prefix + middle + suffix == SOURCE
            assert sample == fim(prefix, suffix, mode=mode) + middle + ENDOFTEXT
        assert modes["psm"] > 5 and modes["spm"] > 5, (span, modes)


def test_fim_and_spm_rates_are_respected():
    stats = Counter()
    for seed in range(400):
        file_sample(SOURCE, "python", random.Random(seed), FimConfig(rate=0.25, spm_rate=0.0), stats)
    assert stats["spm"] == 0 and 60 <= stats["psm"] <= 140 and stats["psm"] + stats["plain"] == 400
    stats = Counter()
    for seed in range(50):
        assert file_sample(SOURCE, "python", random.Random(seed), FimConfig(rate=0.0), stats) == SOURCE + ENDOFTEXT


def test_a_line_span_sample_begins_with_the_servers_cache_friendly_prompt():
    # The server writes the current line up to the cursor after <|fim_middle|> (docs/design.md §4);
    # a line-span sample is that prompt followed by the rest of the middle.
    prefix, middle, suffix = "def add(a, b):\n", "    total = a + b\n", "    return total\n"
    cursor_prefix = prefix + "    total = "
    head, line = split_current_line(cursor_prefix)
    server_prompt = fim(head, suffix, middle_start=line)
    assert fim_sample(prefix, middle, suffix, "psm").startswith(server_prompt)


def test_node_span_is_one_syntax_node():
    from tree_sitter_language_pack import get_parser

    tree = get_parser("python").parse(SOURCE.encode())
    nodes = set()
    stack = [tree.root_node]
    while stack:
        n = stack.pop()
        nodes.add(SOURCE.encode()[n.start_byte:n.end_byte].decode())
        stack.extend(n.children)
    for seed in range(20):
        prefix, middle, suffix = node_span(SOURCE, "python", random.Random(seed), 3)
        assert prefix + middle + suffix == SOURCE and middle in nodes and middle != SOURCE
    stats = Counter()
    split_span("some text", "text", random.Random(0), FimConfig(span="node"), stats)
    assert stats["span_node_fallback"] == 1


def test_repo_level_sample_is_golden():
    ctx = [Document("PI = 3.14\n", "geo/consts.py", "r", "python", "code")]
    current = Document("from geo.consts import PI\n\ndef area(r):\n    return PI * r * r\n", "geo/area.py", "myrepo", "python", "code")
    stats = Counter()
    # rate 1.0, lines span, psm: find a seed that gives PSM for a readable golden text
    seed = next(s for s in range(100) if _mode(s) == "psm")
    sample = repo_sample("myrepo", ctx, current, random.Random(seed), FimConfig(rate=1.0), stats)
    rng = random.Random(seed)
    rng.random()
    prefix, middle, suffix = split_span(current.text, "python", rng, FimConfig(rate=1.0), Counter())
    expected = repo_fim("myrepo", [RepoFile("geo/consts.py", "PI = 3.14\n")], "geo/area.py", prefix, suffix) + middle + ENDOFTEXT
    assert sample == expected
    assert sample.startswith("<|repo_name|>myrepo\n<|file_sep|>geo/consts.py\nPI = 3.14\n\n<|file_sep|>geo/area.py\n<|fim_prefix|>")
    plain = repo_sample("myrepo", ctx, current, random.Random(0), FimConfig(rate=0.0), Counter())
    assert plain == repo_completion("myrepo", [RepoFile("geo/consts.py", "PI = 3.14\n")], "geo/area.py", current.text) + ENDOFTEXT


def _mode(seed: int) -> str:
    stats = Counter()
    repo_sample("r", [], Document(SOURCE, "a.py", "r", "python", "code"), random.Random(seed), FimConfig(rate=1.0), stats)
    return "psm" if stats["repo_psm"] else "spm"


def test_fim_tokens_tokenize_as_single_control_tokens(qwen_tokenizer):
    ids = qwen_tokenizer.encode(fim_sample("def f():\n", "    return 1\n", "\n", "psm"), add_special_tokens=False).ids
    assert ids[0] == FIM_PREFIX_ID and ids.count(FIM_SUFFIX_ID) == 1 and ids.count(FIM_MIDDLE_ID) == 1
    assert ids[-1] == ENDOFTEXT_ID


def test_pipeline_repo_level_rows_rebuild_the_real_files(tmp_path, qwen_tokenizer):
    """Decode the shards of a repo-level run: every file block is the file's exact text."""
    from training.data.pack import PAD_ID, PackConfig
    from training.data.pipeline import DataConfig, run_data
    from training.data.shards import ShardSet

    run_data(DataConfig(code=(str(SAMPLE_REPO),), level="repo", pack=PackConfig(seq_len=1024), rows_per_shard=4),
             tmp_path, progress=False, log=lambda m: None)
    files = {p.relative_to(SAMPLE_REPO).as_posix(): p.read_text() for p in SAMPLE_REPO.rglob("*.py")}
    shards = ShardSet(tmp_path)
    seen, with_context = set(), 0
    for r in range(len(shards)):
        ids = [int(t) for t in shards.rows([r])[0] if t != PAD_ID]
        text = qwen_tokenizer.decode(ids, skip_special_tokens=False)
        for sample in filter(None, text.split(ENDOFTEXT)):
            assert sample.startswith(f"{REPO_NAME}sample_repo\n{FILE_SEP}")
            *context, last = sample.split(FILE_SEP)[1:]
            with_context += bool(context)
            for block in context:
                path, _, content = block.partition("\n")
                assert files[path] + "\n" == content
                seen.add(path)
            path, _, rest = last.partition("\n")
            seen.add(path)
            if rest.startswith(FIM_PREFIX):
                prefix, _, tail = rest[len(FIM_PREFIX):].partition(FIM_SUFFIX)
                suffix, _, middle = tail.partition(FIM_MIDDLE)
            elif rest.startswith(FIM_SUFFIX):
                suffix, _, tail = rest[len(FIM_SUFFIX):].partition(FIM_PREFIX)
                prefix, _, middle = tail.partition(FIM_MIDDLE)
            else:
                prefix, middle, suffix = rest, "", ""
            assert prefix + middle + suffix == files[path]
    assert seen == set(files) and with_context >= 1
