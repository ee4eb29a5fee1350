"""Training: the Qwen2.5-Coder recipe at small scale (docs/design.md §3), with the same prompt
formats (``model.prompt``) and path rules (``repo_index.rules``) as the server.

Imports model/, repo_index/ and, from assistant/, the session that builds the server's
prompts (``assistant.session``, ``assistant.request``, ``assistant.config``); never
lsp_server/ or the CLI, and nothing imports it but the CLI (the layers in pyproject.toml).
Heavy libraries (torch, transformers, trl, datasketch) are imported inside functions.

The recipe, one command per stage::

    qwenpair train data --out shards1 --code ~/src --text docs.jsonl --math math.jsonl --seq-len 8192
    qwenpair train pretrain --data shards1 --shape 0.5b --out stage1
    qwenpair train data --out shards2 --code ~/src --level repo --seq-len 32768
    qwenpair train pretrain --data shards2 --stage repo --init-from stage1/checkpoints/step-... --out stage2
    qwenpair train sft --init-from stage2/checkpoints/step-... --data chats.jsonl --fim-data ~/src --out sft
    qwenpair train dpo --init-from sft/checkpoints/step-... --data prefs.jsonl --out dpo

Several GPUs: ``torchrun --nproc_per_node=8 -m qwenpair train pretrain ... [--parallel fsdp]``
(DDP or FSDP2, NCCL); on CPUs the same command uses gloo. DPO runs in trl's Trainer:
``accelerate launch -m qwenpair train dpo ...``.

Map:

- ``data/``: the streaming data pipeline (see ``data/__init__.py``), shards + manifest.
- ``model_config``: Qwen2 shapes (released, tiny, custom JSON) and RoPE/YaRN per stage.
- ``loop``: the shared training loop (schedule, accumulation, clipping, bf16, DDP/FSDP,
  deterministic data order, exact resume).
- ``pretrain`` / ``sft`` / ``dpo``: one module per stage.
- ``checkpoint``, ``atomic``: atomic, self-describing checkpoints and files.
- ``provenance``, ``runs``: prompt-format version, tokenizer fingerprint and resolved config
  written beside every artifact and checked on load.
- ``repo_samples``, ``lora_config``, ``lora``, ``lora_checkpoint``: LoRA/QLoRA on one
  repository, trained on the server's own prompts for masked spans (``qwenpair train lora``).
- ``export_lora``: the adapter as a GGUF LoRA, or merged and quantized, with meta.json.
- ``eval_repo``, ``eval_humaneval``: ``qwenpair eval repo`` (before/after on held-out files)
  and ``qwenpair eval humaneval-fim``. See docs/fine-tuning.md.
"""
