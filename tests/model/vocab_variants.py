"""Variants of the tiny test model whose vocabulary differs from Qwen2.5's in one way.

Each is the tiny model's Hugging Face folder with its added tokens renumbered or renamed in
``tokenizer.json`` and ``tokenizer_config.json``, converted to GGUF by the project's own
converter (``model.gguf_export``), so llama.cpp and transformers both load it for real. The
BPE vocabulary and the weights are the tiny model's; only where the control tokens sit changes.

- ``shifted``: the 21 tokens from ``<|im_start|>`` to ``<|file_sep|>`` rotated, so every FIM,
  repo and ChatML token has another ID (as a family with the same strings would number them).
- ``no_file_sep``: ``<|file_sep|>`` renamed (repository-level FIM is impossible).
- ``no_fim``: ``<|fim_prefix|>``, ``<|fim_suffix|>`` and ``<|fim_middle|>`` renamed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from model.gguf_export import export_gguf
from model.tokens import CONTROL_TOKENS, TOKEN_IDS

FIRST, LAST = TOKEN_IDS["<|im_start|>"], TOKEN_IDS["<|file_sep|>"]
ROTATE = 15  # <|fim_prefix|> (the 16th of the 21) lands on <|im_start|>'s ID


def shifted_ids() -> dict[str, int]:
    """Token text -> ID in the ``shifted`` variant."""
    span = [t for t in CONTROL_TOKENS if FIRST <= TOKEN_IDS[t] <= LAST]
    n = len(span)
    out = dict(TOKEN_IDS)
    for k in range(n):
        out[span[(k + ROTATE) % n]] = FIRST + k
    return out


def _renumber(hf: Path, new_id: dict[str, int], renamed: dict[str, str]) -> None:
    tok_path, cfg_path = hf / "tokenizer.json", hf / "tokenizer_config.json"
    tok, cfg = json.loads(tok_path.read_text()), json.loads(cfg_path.read_text())
    for a in tok["added_tokens"]:
        a["id"] = new_id.get(a["content"], a["id"])
        a["content"] = renamed.get(a["content"], a["content"])
    tok["added_tokens"].sort(key=lambda a: a["id"])
    decoder = {}
    for entry in cfg["added_tokens_decoder"].values():
        token_id = new_id.get(entry["content"])
        entry["content"] = renamed.get(entry["content"], entry["content"])
        decoder[str(token_id)] = entry
    cfg["added_tokens_decoder"] = dict(sorted(decoder.items(), key=lambda kv: int(kv[0])))
    cfg["additional_special_tokens"] = [renamed.get(t, t) for t in cfg.get("additional_special_tokens", [])]
    tok_path.write_text(json.dumps(tok, ensure_ascii=False))
    cfg_path.write_text(json.dumps(cfg, ensure_ascii=False, indent=1))


def build_variant(tiny_model, kind: str, out_dir: Path) -> tuple[Path, Path]:
    """(GGUF, Hugging Face folder) of the variant ``kind`` under ``out_dir``."""
    hf = out_dir / kind / "hf"
    shutil.copytree(tiny_model.hf_dir, hf)
    if kind == "shifted":
        _renumber(hf, shifted_ids(), {})
    elif kind == "no_file_sep":
        _renumber(hf, dict(TOKEN_IDS), {"<|file_sep|>": "<|unused_0|>"})
    elif kind == "no_fim":
        renamed = {t: f"<|unused_{k}|>" for k, t in enumerate(("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"))}
        _renumber(hf, dict(TOKEN_IDS), renamed)
    else:
        raise ValueError(kind)
    gguf = export_gguf(hf, out_dir / kind / f"tiny-{kind}-f16.gguf", out_type="f16", name=f"tiny-{kind}")
    return gguf, hf
