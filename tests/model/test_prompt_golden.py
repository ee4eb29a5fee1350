"""Golden tests: the official Qwen2.5-Coder prompt examples, as text and as token IDs.

The two examples are from the Qwen2.5-Coder README (examples/Qwen2.5-Coder.md): the quicksort
"Code Insertion (Fill in the middle)" prompt and the library-system "Repository Level Code
Infilling" prompt. ``model.prompt`` must reproduce them exactly. Their token IDs were generated
once with our tokenizer, checked by eye (special tokens at the seams, one ID each), and are
compared here against three tokenizers: ours (``tokenizers``), transformers on the same
files, and llama.cpp on the tiny test model's GGUF.

One deliberate difference from the README: its repo-level ``input_text`` is a triple-quoted
string whose closing quotes sit on the next line, so it ends "<|fim_middle|>\\n". That newline
is an artifact of the code layout, not of the format (the technical report's Figure 4 and the
README's own FIM example end at <|fim_middle|>; a newline there would force the middle to
start on a new line). Our prompt ends at <|fim_middle|>; the test below pins that this is the
only difference.

Regenerate the golden files after an intended format change with
``QWENPAIR_UPDATE_GOLDEN=1 pytest tests/model/test_prompt_golden.py`` (those tests then skip,
saying what they wrote; see tests/golden.py) and review the diff.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from model.prompt import RepoFile, fim, repo_fim
from model.tokens import FILE_SEP_ID, FIM_MIDDLE_ID, FIM_PREFIX_ID, FIM_SUFFIX_ID, REPO_NAME_ID
from tests.golden import check_text, rewrite, updating

GOLDEN = Path(__file__).parent / "golden"

QUICKSORT_PREFIX = (
    "def quicksort(arr):\n    if len(arr) <= 1:\n        return arr\n    pivot = arr[len(arr) // 2]\n    "
)
QUICKSORT_SUFFIX = (
    "\n    middle = [x for x in arr if x == pivot]\n    right = [x for x in arr if x > pivot]\n"
    "    return quicksort(left) + middle + quicksort(right)"
)
#: The README's FIM input_text, verbatim.
README_QUICKSORT = (
    "<|fim_prefix|>def quicksort(arr):\n    if len(arr) <= 1:\n        return arr\n    pivot = arr[len(arr) // 2]\n"
    "    <|fim_suffix|>\n    middle = [x for x in arr if x == pivot]\n    right = [x for x in arr if x > pivot]\n"
    "    return quicksort(left) + middle + quicksort(right)<|fim_middle|>"
)
CURSOR_AFTER = "    # Student borrows a book"  # the README's cursor: end of this line of main.py


def quicksort_prompt() -> str:
    return fim(QUICKSORT_PREFIX, QUICKSORT_SUFFIX)


def library_system_prompt() -> str:
    repo = GOLDEN / "library-system"
    main = (repo / "main.py.txt").read_text("utf-8")
    cut = main.index(CURSOR_AFTER) + len(CURSOR_AFTER)
    files = [RepoFile(name, (repo / f"{name}.txt").read_text("utf-8")) for name in ("library.py", "student.py")]
    return repo_fim("library-system", files, "main.py", main[:cut], main[cut:])


EXAMPLES = {"fim_quicksort": quicksort_prompt, "repo_fim_library_system": library_system_prompt}


def escaped_lines(text: str) -> list[str]:
    """Lines shown with their escapes (``\\n``, tabs, trailing spaces visible)."""
    return [repr(line)[1:-1] + "\n" for line in text.splitlines(keepends=True)]


def assert_golden_text(name: str, actual: str) -> None:
    check_text(GOLDEN / f"{name}.txt", actual, what="model.prompt output", lines=escaped_lines)


def golden_ids(name: str, actual: list[int] | None = None) -> list[int]:
    """The golden token IDs of ``name``; with ``actual``, rewritten from it when updating."""
    path = GOLDEN / f"{name}.ids.json"
    if actual is not None and updating():
        rewrite(path, json.dumps(actual) + "\n")
    return json.loads(path.read_text("utf-8"))


def assert_same_ids(expected: list[int], actual: list[int], decode) -> None:
    if actual == expected:
        return
    at = next((i for i, (a, b) in enumerate(zip(expected, actual)) if a != b), min(len(expected), len(actual)))
    pytest.fail(
        f"token IDs differ at position {at} (lengths {len(expected)} vs {len(actual)}):\n"
        f"  expected {expected[at:at + 8]} = {decode(expected[at:at + 8])!r}\n"
        f"  actual   {actual[at:at + 8]} = {decode(actual[at:at + 8])!r}"
    )


@pytest.mark.parametrize("name", EXAMPLES)
def test_prompt_text_matches_golden(name):
    assert_golden_text(name, EXAMPLES[name]())


def test_quicksort_prompt_is_the_readme_text():
    assert quicksort_prompt() == README_QUICKSORT


def test_library_system_prompt_is_the_readme_text_but_for_its_trailing_newline():
    readme = (GOLDEN / "readme_repo_infilling_input_text.txt").read_text("utf-8")
    assert readme.endswith("<|fim_middle|>\n")
    assert library_system_prompt() + "\n" == readme


@pytest.mark.parametrize("name", EXAMPLES)
def test_token_ids_match_golden(name, qwen_tokenizer):
    actual = qwen_tokenizer.encode(EXAMPLES[name](), add_special_tokens=False).ids
    assert_same_ids(golden_ids(name, actual), actual, qwen_tokenizer.decode)


def test_golden_ids_have_the_special_tokens_where_the_format_puts_them():
    fim_ids = golden_ids("fim_quicksort")
    assert fim_ids[0] == FIM_PREFIX_ID and fim_ids[-1] == FIM_MIDDLE_ID
    assert fim_ids.count(FIM_SUFFIX_ID) == 1
    repo_ids = golden_ids("repo_fim_library_system")
    assert repo_ids[0] == REPO_NAME_ID and repo_ids[-1] == FIM_MIDDLE_ID
    assert repo_ids.count(FILE_SEP_ID) == 3
    assert [repo_ids.count(t) for t in (FIM_PREFIX_ID, FIM_SUFFIX_ID, FIM_MIDDLE_ID)] == [1, 1, 1]


@pytest.mark.parametrize("name", EXAMPLES)
def test_transformers_tokenizer_agrees(name):
    from model.tokenizer import load_hf_tokenizer

    hf = load_hf_tokenizer()
    actual = hf(EXAMPLES[name]())["input_ids"]  # default call: nothing may be added (no BOS)
    assert_same_ids(golden_ids(name), actual, hf.decode)


@pytest.mark.slow
def test_llama_cpp_tokenizes_the_prompts_the_same(tiny_model):
    import llama_cpp

    llm = llama_cpp.Llama(model_path=str(tiny_model.gguf), n_ctx=64, vocab_only=True, verbose=False)
    for name, build in EXAMPLES.items():
        actual = llm.tokenize(build().encode("utf-8"), add_bos=False, special=True)
        text = lambda ids: llm.detokenize(ids, special=True).decode(errors="replace")  # noqa: E731
        assert_same_ids(golden_ids(name), actual, text)


@pytest.mark.parametrize("name", EXAMPLES)
def test_backends_splice_markers_into_the_golden_ids(name, tiny_model):
    """The backends tokenize a Prompt piece by piece (text as text, markers by ID); for the
    official examples that is exactly the whole-string tokenization above."""
    from model.backends.llama_cpp import LlamaCppBackend
    from model.backends.tokenizer_only import TokenizerOnlyBackend

    assert TokenizerOnlyBackend().tokenize(EXAMPLES[name]()) == golden_ids(name)
    ll = LlamaCppBackend(tiny_model.gguf, n_ctx=2048, n_threads=2)
    try:
        assert ll.tokenize(EXAMPLES[name]()) == golden_ids(name)
    finally:
        ll.close()
