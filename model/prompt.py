"""Qwen2.5-Coder prompt formats: file-level FIM, repository-level FIM, ChatML.

The one place that writes prompt text. The engine (assistant/) and the training pipeline
(training/) both import it, so a model is trained on exactly the prompts the server sends.
It only builds strings; token budgets and context choice live in the callers.

Formats (DESIGN.md §3):

- file-level FIM, PSM: ``<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>``; no BOS.
- repository-level (technical report, Figure 4; no trailing space after paths)::

      <|repo_name|>{repo_name}
      <|file_sep|>{path1}
      {content1}
      <|file_sep|>{current_path}
      <|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>

- cache-friendly variant: ``middle_start`` (the current line up to the cursor) is written
  after ``<|fim_middle|>`` as the start of the middle, so a keystroke appends a few tokens
  to a cached prefix instead of changing text in front of the whole suffix.
- ChatML for instruct models, with Qwen's default system prompt.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from model.tokens import (
    FILE_SEP,
    FIM_MIDDLE,
    FIM_PREFIX,
    FIM_SUFFIX,
    IM_END,
    IM_START,
    REPO_NAME,
)

#: Bumped whenever any format below changes; recorded beside every checkpoint and adapter.
PROMPT_FORMAT_VERSION = 1

DEFAULT_SYSTEM_PROMPT = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."

FimMode = Literal["psm", "spm"]


@dataclass(frozen=True)
class RepoFile:
    """One file of repository context: its path relative to the repository root and text."""

    path: str
    content: str


@dataclass(frozen=True)
class ChatMessage:
    """One ChatML turn. ``role`` is system, user or assistant."""

    role: str
    content: str


def fim(prefix: str, suffix: str, *, mode: FimMode = "psm", middle_start: str = "") -> str:
    """File-level FIM prompt.

    PSM is what Qwen2.5-Coder documents for inference. SPM (suffix first) exists for the
    training transform; Qwen did not publish its PSM/SPM split, so training makes it a rate.
    """
    if mode == "psm":
        return f"{FIM_PREFIX}{prefix}{FIM_SUFFIX}{suffix}{FIM_MIDDLE}{middle_start}"
    if mode == "spm":
        return f"{FIM_SUFFIX}{suffix}{FIM_PREFIX}{prefix}{FIM_MIDDLE}{middle_start}"
    raise ValueError(f"unknown FIM mode {mode!r}: use 'psm' or 'spm'")


def repo_header(repo_name: str, files: Iterable[RepoFile]) -> str:
    """The repository part of a repo-level prompt: name, then each context file in order."""
    parts = [f"{REPO_NAME}{repo_name}\n"]
    parts.extend(f"{FILE_SEP}{f.path}\n{f.content}\n" for f in files)
    return "".join(parts)


def repo_fim(
    repo_name: str,
    files: Sequence[RepoFile],
    current_path: str,
    prefix: str,
    suffix: str,
    *,
    middle_start: str = "",
    mode: FimMode = "psm",
) -> str:
    """Repository-level FIM prompt with the current file last (report Figure 4)."""
    return (
        repo_header(repo_name, files)
        + f"{FILE_SEP}{current_path}\n"
        + fim(prefix, suffix, mode=mode, middle_start=middle_start)
    )


def repo_completion(repo_name: str, files: Sequence[RepoFile], current_path: str, prefix: str) -> str:
    """Repository-level left-to-right prompt (no FIM): the current file's text continues."""
    return repo_header(repo_name, files) + f"{FILE_SEP}{current_path}\n{prefix}"


def split_current_line(prefix: str) -> tuple[str, str]:
    """Split a prefix into (text up to the start of the current line, current line so far).

    ``fim(head, suffix, middle_start=line)`` is the cache-friendly layout of
    ``fim(prefix, suffix)``: the head and suffix stay fixed while the user types on a line.
    """
    cut = prefix.rfind("\n") + 1
    return prefix[:cut], prefix[cut:]


def chatml(
    messages: Sequence[ChatMessage],
    *,
    system: str | None = DEFAULT_SYSTEM_PROMPT,
    add_generation_prompt: bool = True,
) -> str:
    """ChatML text for an instruct model.

    A system message is prepended with ``system`` (Qwen's default) unless the conversation
    starts with one; ``system=None`` leaves it out.
    """
    turns = list(messages)
    if system is not None and (not turns or turns[0].role != "system"):
        turns.insert(0, ChatMessage("system", system))
    text = "".join(f"{IM_START}{m.role}\n{m.content}{IM_END}\n" for m in turns)
    if add_generation_prompt:
        text += f"{IM_START}assistant\n"
    return text
