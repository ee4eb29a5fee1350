"""The exact Qwen2.5 tokenizer, rebuilt offline from the Qwen2 BPE vocabulary file.

Qwen2.5's tokenizer is the Qwen2 byte-level BPE (151,643 tokens and their merges, which
``model.vocab`` fetches as ``ggml-vocab-qwen2.gguf``) plus 22 control tokens at IDs
151643-151664 (``model.tokens.CONTROL_TOKENS``). This module rebuilds it with the
``tokenizers`` library: the BPE with Qwen2's pre-tokenizer regex, NFC normalization and
byte-level decoding, the control tokens added with the same flags as the released
tokenizer.json (so ``<|fim_prefix|>`` is always the one token 151659, and, as in the release,
only the FIM/repo tokens and ``<tool_call>`` are not flagged special). It saves a standard
Hugging Face tokenizer directory (tokenizer.json, tokenizer_config.json with the Qwen2.5 chat
template, eos/pad ``<|endoftext|>``, no BOS) once under ``vocab_dir()/qwen2.5-tokenizer``.

Exactness is proved by ``tests/model/test_tokenizer.py`` on llama.cpp's test vectors.
``load_fast_tokenizer`` needs only ``tokenizers`` (the engine counts tokens with it);
``load_hf_tokenizer`` gives the transformers tokenizer that training uses.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from model.errors import ModelError
from model.paths import vocab_dir
from model.tokens import (
    BPE_VOCAB_SIZE,
    CONTROL_TOKENS,
    ENDOFTEXT,
    FILE_SEP_ID,
    IM_END,
    TOKEN_IDS,
)
from model.vocab import VOCAB_FILE, qwen2_vocab_path

if TYPE_CHECKING:
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

#: Bump when the saved directory would change; an older cached build is then rebuilt.
TOKENIZER_BUILD_VERSION = 1
TOKENIZER_DIRNAME = "qwen2.5-tokenizer"
#: Written last into the directory: its presence (with this version) means "complete".
STAMP_FILE = "qwenpair-tokenizer.json"

#: Qwen2's pre-tokenizer split (released tokenizer.json; llama.cpp's "qwen2" pre-tokenizer).
QWEN2_PRETOKENIZE_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)

#: The released tokenizer flags these control tokens as not special (docs/design.md §3), so
#: ``skip_special_tokens`` keeps them: <tool_call>, </tool_call> and the six FIM/repo tokens.
NOT_SPECIAL_IDS = frozenset(range(TOKEN_IDS["<tool_call>"], FILE_SEP_ID + 1))

#: Qwen2.5's chat template, verbatim from the released tokenizer_config.json (the one
#: Qwen2.5-Coder base and instruct ship; default system prompt included).
QWEN25_CHAT_TEMPLATE = r"""{%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
    {%- endif %}
    {{- "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}
    {%- else %}
        {{- '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\n<tool_call>\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<tool_response>\n' }}
        {{- message.content }}
        {{- '\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %}
"""


def tokenizer_dir(*, quiet: bool = False, fetch: bool = False) -> Path:
    """The cached Hugging Face tokenizer directory; built (offline) from the vocabulary on first use.

    Without the cached vocabulary it raises a ModelError naming ``qwenpair model vocab``;
    only that command passes ``fetch=True`` to download it (docs/security.md).
    """
    dest = vocab_dir() / TOKENIZER_DIRNAME
    if _is_complete(dest):
        return dest
    vocab = qwen2_vocab_path(quiet=quiet, fetch=fetch)
    if not quiet:
        print(f"qwenpair: building the Qwen2.5 tokenizer in {dest}", file=sys.stderr)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    tmp.chmod(0o755)  # mkdtemp makes 0700; the cache is shared like any other
    try:
        save_tokenizer_dir(tmp, vocab)
        if dest.exists():  # an older build version: replace it
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    except OSError:
        if not _is_complete(dest):  # another process may have won the race with a good build
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def save_tokenizer_dir(dest: Path, vocab_gguf: Path) -> None:
    """Write tokenizer.json, tokenizer_config.json and the build stamp into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    build_tokenizer(vocab_gguf).save(str(dest / "tokenizer.json"))
    _write_json(dest / "tokenizer_config.json", tokenizer_config())
    _write_json(dest / STAMP_FILE, {"build_version": TOKENIZER_BUILD_VERSION, "source": VOCAB_FILE})


def build_tokenizer(vocab_gguf: Path) -> Tokenizer:
    """The Qwen2.5 tokenizer as a ``tokenizers.Tokenizer``: Qwen2 BPE + 22 control tokens."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    tokens, merges = read_bpe_vocab(vocab_gguf)
    bpe = models.BPE(
        vocab={tok: i for i, tok in enumerate(tokens)},
        merges=[_merge_pair(m, vocab_gguf) for m in merges],
        unk_token=None,
        fuse_unk=False,
        byte_fallback=False,
    )
    tok = Tokenizer(bpe)
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
        ]
    )
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tok.decoder = decoders.ByteLevel()
    # Added one at a time, in ID order, so each lands on its ID right after the BPE vocabulary.
    for text in CONTROL_TOKENS:
        special = TOKEN_IDS[text] not in NOT_SPECIAL_IDS
        added = AddedToken(text, special=special, normalized=False)
        if special:
            tok.add_special_tokens([added])
        else:
            tok.add_tokens([added])
    for text in CONTROL_TOKENS:
        if tok.token_to_id(text) != TOKEN_IDS[text]:
            raise ModelError(f"{text} got ID {tok.token_to_id(text)}, not {TOKEN_IDS[text]}, from {vocab_gguf}")
    return tok


def read_bpe_vocab(vocab_gguf: Path) -> tuple[list[str], list[str]]:
    """The 151,643 BPE token strings (byte-level alphabet) and merge rules from the vocab GGUF."""
    import gguf

    try:
        reader = gguf.GGUFReader(vocab_gguf)
        tokens = reader.fields["tokenizer.ggml.tokens"].contents()
        merges = reader.fields["tokenizer.ggml.merges"].contents()
        model = reader.fields["tokenizer.ggml.model"].contents()
    except (KeyError, ValueError, OSError) as exc:
        raise ModelError(f"{vocab_gguf} is not a readable vocabulary GGUF ({exc}): delete it to refetch") from exc
    # The file pads to 151,936 rows after the BPE part; everything past it is replaced.
    if model != "gpt2" or len(tokens) < BPE_VOCAB_SIZE or tokens[BPE_VOCAB_SIZE] != ENDOFTEXT:
        raise ModelError(f"{vocab_gguf} is not the Qwen2 BPE vocabulary: delete it to refetch")
    return tokens[:BPE_VOCAB_SIZE], merges


def tokenizer_config(*, eos_token: str = ENDOFTEXT, model_max_length: int = 32_768) -> dict[str, Any]:
    """tokenizer_config.json as released with Qwen2.5-Coder base models (instruct: eos <|im_end|>)."""
    return {
        "add_bos_token": False,
        "add_prefix_space": False,
        "added_tokens_decoder": {
            str(TOKEN_IDS[t]): {
                "content": t,
                "lstrip": False,
                "normalized": False,
                "rstrip": False,
                "single_word": False,
                "special": TOKEN_IDS[t] not in NOT_SPECIAL_IDS,
            }
            for t in CONTROL_TOKENS
        },
        "additional_special_tokens": [
            t for t in CONTROL_TOKENS if t != ENDOFTEXT and TOKEN_IDS[t] not in NOT_SPECIAL_IDS
        ],
        "bos_token": None,
        "chat_template": QWEN25_CHAT_TEMPLATE,
        "clean_up_tokenization_spaces": False,
        "eos_token": eos_token,
        "errors": "replace",
        "model_max_length": model_max_length,
        "pad_token": ENDOFTEXT,
        "split_special_tokens": False,
        "tokenizer_class": "Qwen2Tokenizer",
        "unk_token": None,
    }


def instruct_tokenizer_config() -> dict[str, Any]:
    """The instruct models' tokenizer_config.json: the same, but EOS is <|im_end|>."""
    return tokenizer_config(eos_token=IM_END)


@lru_cache(maxsize=4)
def _load_fast(path: Path) -> Tokenizer:
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(path / "tokenizer.json"))


def load_fast_tokenizer(path: Path | None = None, *, fetch: bool = False) -> Tokenizer:
    """The tokenizer as a ``tokenizers.Tokenizer`` (no torch or transformers import).

    Nothing is added to encoded text (no BOS), and control-token text in the input is always
    one token. The engine calls this at run time, so by default it never downloads: without
    the cached vocabulary it raises ModelError (``fetch=True`` downloads it, as
    ``qwenpair model vocab`` does).
    """
    return _load_fast(Path(path) if path else tokenizer_dir(quiet=True, fetch=fetch))


def load_hf_tokenizer(path: Path | None = None, *, fetch: bool = False) -> PreTrainedTokenizerFast:
    """The tokenizer as a transformers ``PreTrainedTokenizerFast`` (training, the hf backend).

    Never downloads by default: without the cached vocabulary it raises ModelError, as
    ``load_fast_tokenizer`` does. The directory is local, so transformers never asks the hub.
    """
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path or tokenizer_dir(fetch=fetch)), local_files_only=True)


def _is_complete(dest: Path) -> bool:
    try:
        stamp = json.loads((dest / STAMP_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return False
    return stamp.get("build_version") == TOKENIZER_BUILD_VERSION and (dest / "tokenizer.json").is_file()


def _merge_pair(merge: str, source: Path) -> tuple[str, str]:
    left, sep, right = merge.partition(" ")
    if not sep or " " in right:
        raise ModelError(f"{source} has a malformed merge rule {merge!r}: delete it to refetch")
    return left, right


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

