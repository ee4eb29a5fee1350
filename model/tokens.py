"""Qwen2.5-Coder special tokens: their exact IDs, the EOS of each model kind, the stop set;
and ``SpecialTokens``, the IDs a loaded model's own vocabulary gives those token strings.

The Qwen2.5-Coder IDs are the same in every size, base and instruct, and stay here as the
golden expectation (``QWEN25``). A backend never trusts them for another file: it reads each
token string's ID from the loaded GGUF's or tokenizer's vocabulary (``SpecialTokens.read``),
so a family with the same strings at other IDs works, and one without the FIM strings is
refused for completion by name. Markers are spliced in by these IDs, never parsed from text
(docs/security.md, "control tokens"). This module is pure data and a few helpers; it imports
nothing heavy, so every layer may use it.

The FIM and repo tokens are not flagged "special" in the Hugging Face tokenizer, so decoding
with ``skip_special_tokens`` does not strip them: generation must stop on all of
``STOP_TOKEN_IDS`` and post-processing must cut any leaked token text (``cut_at_leaked_token``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from model.errors import ModelError

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

#: The strings whose tokens end generation, whatever the model kind.
STOP_TEXTS: Final[tuple[str, ...]] = (ENDOFTEXT, IM_END, FIM_PREFIX, FIM_MIDDLE, FIM_SUFFIX, FIM_PAD, REPO_NAME, FILE_SEP)
#: The tokens file-level FIM needs, and the ones repository-level prompts add.
FIM_TEXTS: Final[tuple[str, ...]] = (FIM_PREFIX, FIM_SUFFIX, FIM_MIDDLE)
REPO_TEXTS: Final[tuple[str, ...]] = (REPO_NAME, FILE_SEP)

#: Generation stops on any of these, whatever the model kind (151643, 151645, 151659-151664).
STOP_TOKEN_IDS: Final[frozenset[int]] = frozenset(TOKEN_IDS[t] for t in STOP_TEXTS)
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


class MissingSpecialTokens(ModelError):
    """A prompt needs a control token the loaded model's vocabulary does not have."""


@dataclass(frozen=True)
class SpecialTokens:
    """The control tokens of one loaded model: token string -> ID in its vocabulary.

    Built by ``read`` from a lookup over the model's own vocabulary (llama.cpp's token texts,
    the Hugging Face tokenizer's added tokens). A string the vocabulary lacks is absent.
    """

    ids: Mapping[str, int]
    source: str = "Qwen2.5-Coder"  # the model file or tokenizer, for messages

    @classmethod
    def read(cls, lookup: Callable[[str], int | None], source: str) -> SpecialTokens:
        """Each control-token string's ID from ``lookup`` (None: not in the vocabulary)."""
        found = {}
        for text in CONTROL_TOKENS:
            token_id = lookup(text)
            if token_id is not None:
                found[text] = int(token_id)
        return cls(found, source)

    def get(self, text: str) -> int | None:
        return self.ids.get(text)

    def missing(self, texts: Iterable[str]) -> list[str]:
        """Those of ``texts`` this vocabulary lacks, in order."""
        return [t for t in texts if t not in self.ids]

    @property
    def stop_ids(self) -> frozenset[int]:
        """This model's IDs of ``STOP_TEXTS`` (those it has)."""
        return frozenset(self.ids[t] for t in STOP_TEXTS if t in self.ids)

    @property
    def can_fim(self) -> bool:
        return not self.missing(FIM_TEXTS)

    @property
    def can_repo_fim(self) -> bool:
        return self.can_fim and not self.missing(REPO_TEXTS)

    def require_fim(self) -> None:
        """Refuse completion (fill-in-the-middle) when the FIM tokens are not all there."""
        lacking = self.missing(FIM_TEXTS)
        if lacking:
            raise MissingSpecialTokens(
                f"{self.source} cannot complete code: its vocabulary lacks the fill-in-the-middle "
                f"token{'s' if len(lacking) > 1 else ''} {', '.join(lacking)}. Use a model with FIM "
                "tokens for completion (a Qwen2.5-Coder base model: 'qwenpair model list'); this "
                "one can still chat if it has the ChatML tokens"
            )


#: The golden expectation: Qwen2.5-Coder's IDs (a model read from its files must match them).
QWEN25: Final = SpecialTokens(dict(TOKEN_IDS), "Qwen2.5-Coder")
