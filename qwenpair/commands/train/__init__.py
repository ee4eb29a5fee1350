"""``qwenpair train``: the Qwen2.5-Coder recipe at small scale (docs/design.md §3).

Actions: ``data`` (sources -> tokenized shards), ``classifier`` (fit a fastText-style quality
classifier for the data stage), ``pretrain`` (file-level stage 1, repo-level stage 2),
``sft`` (ChatML, loss on assistant turns, plus a FIM share), ``dpo`` (trl's DPOTrainer with a
reference model), ``lora`` (adapt a base model to one repository) and ``lora-export`` (its
adapter as a GGUF LoRA, or merged into the base and quantized). Handlers only translate
options into the configs of ``training/``, imported inside them so that ``qwenpair --help``
stays fast.

Modules: ``data`` (data, classifier), ``stages`` (pretrain, sft, dpo), ``lora`` (lora,
lora-export), and ``runner``: the options every training stage shares and the one stage
runner that calls a stage and reports its result.

Several processes: ``torchrun --nproc_per_node=N -m qwenpair train pretrain ...`` (also sft);
``accelerate launch -m qwenpair train dpo ...``.
"""

from __future__ import annotations

import argparse
import sys

from qwenpair.commands.train import data, lora, stages


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "train",
        help="data pipeline, pretraining, SFT and DPO (the Qwen2.5-Coder recipe at small scale)",
        description="Reproduce the Qwen2.5-Coder training recipe on your own code: build tokenized "
        "shards, pretrain (file-level, then repo-level), SFT and DPO. Every stage writes its "
        "resolved config, prompt-format version and tokenizer beside its outputs.",
    )
    actions = parser.add_subparsers(dest="train_command", metavar="ACTION")
    parser.set_defaults(handler=lambda _a: (parser.print_help(sys.stderr), 2)[1])
    data.data_parser(actions)
    data.classifier_parser(actions)
    stages.pretrain_parser(actions)
    stages.sft_parser(actions)
    stages.dpo_parser(actions)
    lora.lora_parser(actions)
    lora.lora_export_parser(actions)
