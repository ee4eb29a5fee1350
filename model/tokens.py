"""Qwen2.5-Coder special tokens: their exact IDs, the EOS of each model kind, the stop set.

These IDs are the same in every size, base and instruct (DESIGN.md §3). This module is pure
data and a few helpers; it imports nothing heavy, so every layer may use it.

The FIM and repo tokens are not flagged "special" in the Hugging Face tokenizer, so decoding
with ``skip_special_tokens`` does not strip them: generation must stop on all of
``STOP_TOKEN_IDS`` and post-processing must cut any leaked token text (``cut_at_leaked_token``).
"""

from __future__ import annotations

from typing import Final

ENDOFTEXT: Final = "<|endoftext|>"
IM_START: Final = "<|im_start|>"
IM_END: Final = "<|im_end|>"
FIM_PREFIX: Final = "<|fim_prefix|>"
FIM_MIDDLE: Final = "<|fim_middle|>"
FIM_SUFFIX: Final = "<|fim_suffix|>"
FIM_PAD: Final = "<|fim_pad|>"
REPO_NAME: Final = "<|repo_name|>"
FILE_SEP: Final = "<|file_sep|>"

#: BPE vocabulary size (regular tokens 0..151642).
BPE_VOCAB_SIZE: Final = 151_643

#: The 22 control tokens, in ID order from 151643. Names follow the released tokenizer.json.
CONTROL_TOKENS: Final[tuple[str, ...]] = (
    ENDOFTEXT,  # 151643  EOS of base models, also PAD
    IM_START,  # 151644
    IM_END,  # 151645  EOS of instruct models
    "<|object_ref_start|>",  # 151646  unused vision/box tokens 151646-151656
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",  # 151656
    "<tool_call>",  # 151657
    "</tool_call>",  # 151658
    FIM_PREFIX,  # 151659
    FIM_MIDDLE,  # 151660
    FIM_SUFFIX,  # 151661
    FIM_PAD,  # 151662
    REPO_NAME,  # 151663
    FILE_SEP,  # 151664
)

#: token text -> ID for every control token.
TOKEN_IDS: Final[dict[str, int]] = {t: BPE_VOCAB_SIZE + i for i, t in enumerate(CONTROL_TOKENS)}

ENDOFTEXT_ID: Final = TOKEN_IDS[ENDOFTEXT]  # 151643
IM_START_ID: Final = TOKEN_IDS[IM_START]  # 151644
IM_END_ID: Final = TOKEN_IDS[IM_END]  # 151645
FIM_PREFIX_ID: Final = TOKEN_IDS[FIM_PREFIX]  # 151659
FIM_MIDDLE_ID: Final = TOKEN_IDS[FIM_MIDDLE]  # 151660
FIM_SUFFIX_ID: Final = TOKEN_IDS[FIM_SUFFIX]  # 151661
FIM_PAD_ID: Final = TOKEN_IDS[FIM_PAD]  # 151662
REPO_NAME_ID: Final = TOKEN_IDS[REPO_NAME]  # 151663
FILE_SEP_ID: Final = TOKEN_IDS[FILE_SEP]  # 151664

#: BPE 151,643 + 22 control tokens.
TOKENIZER_SIZE: Final = BPE_VOCAB_SIZE + len(CONTROL_TOKENS)  # 151_665
#: Embedding rows are padded beyond the tokenizer: 0.5B-3B vs 7B-32B.
PADDED_VOCAB_SMALL: Final = 151_936
PADDED_VOCAB_LARGE: Final = 152_064

PAD_ID: Final = ENDOFTEXT_ID
BASE_EOS_ID: Final = ENDOFTEXT_ID
INSTRUCT_EOS_ID: Final = IM_END_ID

#: Generation stops on any of these, whatever the model kind (151643, 151645, 151659-151664).
STOP_TOKEN_IDS: Final[frozenset[int]] = frozenset(
    {ENDOFTEXT_ID, IM_END_ID, FIM_PREFIX_ID, FIM_MIDDLE_ID, FIM_SUFFIX_ID, FIM_PAD_ID, REPO_NAME_ID, FILE_SEP_ID}
)
#: Their texts, for cutting leaked token text out of decoded output.
STOP_TOKEN_TEXTS: Final[tuple[str, ...]] = tuple(t for t, i in TOKEN_IDS.items() if i in STOP_TOKEN_IDS)

#: CodeQwen1.5 wrote FIM tokens without pipes; seeing them in a Qwen2.5 prompt is a bug.
LEGACY_FIM_TOKENS: Final[tuple[str, ...]] = ("<fim_prefix>", "<fim_suffix>", "<fim_middle>", "<fim_pad>")


def eos_id(instruct: bool) -> int:
    """The EOS token of a base (``<|endoftext|>``) or instruct (``<|im_end|>``) model."""
    return INSTRUCT_EOS_ID if instruct else BASE_EOS_ID


def cut_at_leaked_token(text: str) -> str:
    """Cut ``text`` at the first stop-token text (or legacy FIM token) that leaked into it."""
    cut = len(text)
    for token in STOP_TOKEN_TEXTS + LEGACY_FIM_TOKENS:
        at = text.find(token)
        if at != -1:
            cut = min(cut, at)
    return text[:cut]
