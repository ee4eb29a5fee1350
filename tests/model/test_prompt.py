"""Prompt formats, built from parts (the official examples are golden-tested separately)."""

from hypothesis import given
from hypothesis import strategies as st

from model.prompt import (
    DEFAULT_SYSTEM_PROMPT,
    ChatMessage,
    RepoFile,
    chatml,
    fim,
    repo_completion,
    repo_fim,
    split_current_line,
)


def test_file_level_psm_has_no_bos_and_no_spaces():
    assert fim("def f(", ")\n") == "<|fim_prefix|>def f(<|fim_suffix|>)\n<|fim_middle|>"


def test_spm_puts_the_suffix_first():
    assert fim("P", "S", mode="spm") == "<|fim_suffix|>S<|fim_prefix|>P<|fim_middle|>"


def test_unknown_mode_is_refused():
    import pytest

    with pytest.raises(ValueError, match="psm"):
        fim("a", "b", mode="xyz")  # type: ignore[arg-type]


def test_repo_level_layout_matches_figure_4():
    prompt = repo_fim(
        "acme/widgets",
        [RepoFile("src/a.py", "A = 1\n"), RepoFile("src/b.py", "B = 2\n")],
        "src/c.py",
        "import a\n",
        "\n",
    )
    assert prompt == (
        "<|repo_name|>acme/widgets\n"
        "<|file_sep|>src/a.py\nA = 1\n\n"
        "<|file_sep|>src/b.py\nB = 2\n\n"
        "<|file_sep|>src/c.py\n"
        "<|fim_prefix|>import a\n<|fim_suffix|>\n<|fim_middle|>"
    )
    assert "src/a.py \n" not in prompt  # no trailing space after paths


def test_repo_completion_continues_the_current_file():
    assert repo_completion("r", [], "m.py", "x = ") == "<|repo_name|>r\n<|file_sep|>m.py\nx = "


def test_cache_friendly_layout_moves_only_the_current_line():
    prefix = "def f():\n    return "
    head, line = split_current_line(prefix)
    assert (head, line) == ("def f():\n", "    return ")
    plain = fim(prefix, "\n")
    friendly = fim(head, "\n", middle_start=line)
    assert friendly == "<|fim_prefix|>def f():\n<|fim_suffix|>\n<|fim_middle|>    return "
    # Typing one more character only appends to the prompt: the KV prefix stays valid.
    head2, line2 = split_current_line(prefix + "x")
    assert fim(head2, "\n", middle_start=line2).startswith(friendly)
    assert not fim(prefix + "x", "\n").startswith(plain)


@given(st.text())
def test_split_current_line_is_a_split(prefix):
    head, line = split_current_line(prefix)
    assert head + line == prefix
    assert "\n" not in line
    assert head == "" or head.endswith("\n")


def test_chatml_adds_qwens_default_system_prompt():
    text = chatml([ChatMessage("user", "hi")])
    assert text == (
        f"<|im_start|>system\n{DEFAULT_SYSTEM_PROMPT}<|im_end|>\n"
        "<|im_start|>user\nhi<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert DEFAULT_SYSTEM_PROMPT == "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."


def test_chatml_keeps_a_given_system_message_and_can_omit_the_generation_prompt():
    msgs = [ChatMessage("system", "S"), ChatMessage("user", "u"), ChatMessage("assistant", "a")]
    assert chatml(msgs, add_generation_prompt=False) == (
        "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nu<|im_end|>\n<|im_start|>assistant\na<|im_end|>\n"
    )
    assert chatml([ChatMessage("user", "u")], system=None) == "<|im_start|>user\nu<|im_end|>\n<|im_start|>assistant\n"
