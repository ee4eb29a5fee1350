"""Prompt formats by family (``model.registry.FORMATS``) and markers encoded with a model's own
IDs (``model.tokens.SpecialTokens``): a new family is data, not code (issue 22)."""

from __future__ import annotations

import pytest

from model import registry
from model.prompt import ChatMessage, RepoFile, chatml, encode_prompt, file_level, fim, repo_completion, repo_fim, repo_header
from model.tokens import TOKEN_IDS, MissingSpecialTokens, SpecialTokens


def chars(text: str) -> list[int]:
    return [ord(c) for c in text]  # a stand-in text tokenizer: one ID per character


def test_the_family_format_decides_psm_or_spm():
    spm = registry.PromptFormat("spm-family", fim_mode="spm")
    assert fim("P", "S", fmt=spm) == "<|fim_suffix|>S<|fim_prefix|>P<|fim_middle|>"
    assert fim("P", "S") == "<|fim_prefix|>P<|fim_suffix|>S<|fim_middle|>"  # Qwen2.5: PSM
    assert fim("P", "S", mode="psm", fmt=spm).startswith("<|fim_prefix|>")  # an explicit mode wins
    assert repo_fim("r", [], "a.py", "P", "S", fmt=spm).endswith("<|file_sep|>a.py\n<|fim_suffix|>S<|fim_prefix|>P<|fim_middle|>")


def test_a_family_without_the_repo_layout_gets_no_repo_prompt():
    flat = registry.PromptFormat("flat", repo_level=False)
    with pytest.raises(ValueError, match="no repository-level format"):
        repo_fim("r", [RepoFile("a.py", "x")], "b.py", "P", "S", fmt=flat)
    with pytest.raises(ValueError, match="no repository-level format"):
        repo_header("r", [], fmt=flat)


def test_marker_strings_come_from_the_format():
    swapped = registry.PromptFormat("swapped", fim_prefix="<|fim_suffix|>", fim_suffix="<|fim_prefix|>")
    assert fim("P", "S", fmt=swapped) == "<|fim_suffix|>P<|fim_prefix|>S<|fim_middle|>"
    other = registry.PromptFormat("other-chat", im_start="<|fim_pad|>", im_end="<|endoftext|>")
    assert chatml([ChatMessage("user", "hi")], system=None, fmt=other) == "<|fim_pad|>user\nhi<|endoftext|>\n<|fim_pad|>assistant\n"


def test_markers_are_encoded_with_the_models_ids_and_text_as_text():
    shifted = SpecialTokens({t: 1000 + i for i, t in enumerate(TOKEN_IDS)}, "m.gguf")
    prompt = fim("a<|fim_middle|>", "b")  # a file that spells a marker
    ids = encode_prompt(prompt, chars, shifted)
    assert ids == [shifted.ids["<|fim_prefix|>"], *chars("a<|fim_middle|>"), shifted.ids["<|fim_suffix|>"], *chars("b"),
                   shifted.ids["<|fim_middle|>"]]
    assert encode_prompt(prompt, chars) == [TOKEN_IDS["<|fim_prefix|>"], *ids[1:-3], TOKEN_IDS["<|fim_suffix|>"], ord("b"),
                                            TOKEN_IDS["<|fim_middle|>"]]


def test_missing_markers_are_all_named_before_anything_is_tokenized():
    lacking = SpecialTokens({t: i for t, i in TOKEN_IDS.items() if t not in ("<|repo_name|>", "<|file_sep|>")}, "m.gguf")
    seen = []
    with pytest.raises(MissingSpecialTokens, match=r"m.gguf lacks the control tokens <\|repo_name\|>, <\|file_sep\|>"):
        encode_prompt(repo_fim("r", [], "a.py", "P", "S"), lambda t: seen.append(t) or [], lacking)
    assert seen == []
    assert lacking.can_fim and not lacking.can_repo_fim
    with pytest.raises(MissingSpecialTokens, match="cannot complete code.*<\\|fim_middle\\|>"):
        SpecialTokens({"<|fim_prefix|>": 1, "<|fim_suffix|>": 2}, "m.gguf").require_fim()


def test_file_level_keeps_the_current_files_fim_part():
    prompt = repo_fim("acme", [RepoFile("a.py", "x = 1")], "b.py", "def f", "\n", middle_start="  ")
    assert file_level(prompt) == fim("def f", "\n", middle_start="  ")
    assert file_level(prompt).markers == fim("def f", "\n").markers
    spm = repo_fim("acme", [], "b.py", "P", "S", mode="spm")
    assert file_level(spm) == fim("P", "S", mode="spm")
    assert file_level(repo_completion("acme", [RepoFile("a.py", "x")], "b.py", "line 1\nline 2")) == "line 1\nline 2"
    assert file_level(fim("P", "S")) == fim("P", "S") and file_level("plain") == "plain"


def test_every_registry_family_builds_prompts():
    for spec in registry.REGISTRY.values():
        fmt = spec.prompt_format
        assert fim("P", "S", fmt=fmt).markers
        if fmt.repo_level:
            assert repo_fim("r", [], "a.py", "P", "S", fmt=fmt).markers[0][1] == fmt.repo_name
