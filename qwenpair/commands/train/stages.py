"""``qwenpair train pretrain | sft | dpo``: the recipe's training stages, each a parser and a
handler that builds the stage's config and runs it through ``runner.run_stage``."""

from __future__ import annotations

import argparse
from pathlib import Path

from qwenpair.commands.train.runner import (
    is_main, print_json, report_fit, run_stage, stage_defaults, train_config, train_options,
)


def pretrain_parser(actions) -> None:
    p = actions.add_parser(
        "pretrain", help="pretrain a Qwen2 model on shards (next-token + FIM; stage file or repo)",
        description="Pretrain on shards from 'train data'. Stage 'file' starts a fresh model of --shape "
        "(RoPE base 10k); stage 'repo' continues from --init-from on repo-level shards with RoPE base 1M "
        "and optional YaRN. Runs under torchrun for several processes.",
    )
    p.add_argument("--data", required=True, type=Path, help="shard folder from 'train data'")
    p.add_argument("--stage", choices=("file", "repo"), default="file", help="default: file")
    p.add_argument("--shape", default="tiny", help="tiny, 0.5b, 1.5b, 3b, 7b, 14b, 32b, or a JSON file of Qwen2Config fields")
    p.add_argument("--init-from", default=None, metavar="DIR", help="start from this checkpoint or HF folder")
    p.add_argument("--rope-theta", type=float, default=None, help="RoPE base (default 10000 for file, 1000000 for repo)")
    p.add_argument("--yarn-factor", type=float, default=None, help="enable YaRN with this factor (e.g. 4)")
    p.add_argument("--yarn-original", type=int, default=None, help="YaRN's original context (default seq_len/factor)")
    train_options(p, stage_defaults("pretrain"))
    p.set_defaults(handler=run_pretrain)


def run_pretrain(args: argparse.Namespace) -> int:
    from training.pretrain import PretrainConfig, run_pretrain as train

    cfg = PretrainConfig(data=str(args.data), stage=args.stage, shape=args.shape, init_from=args.init_from,
                         rope_theta=args.rope_theta, yarn_factor=args.yarn_factor, yarn_original=args.yarn_original,
                         train=train_config(args))
    return report_fit(args, run_stage(args, train, cfg))


def sft_parser(actions) -> None:
    p = actions.add_parser(
        "sft", help="supervised fine-tuning on ChatML conversations (+ a share of FIM samples)",
        description="Fine-tune on conversations (JSONL with 'messages'); the loss is on assistant turns "
        "only. --fim-data mixes in FIM samples so the model keeps infilling.",
    )
    p.add_argument("--init-from", required=True, metavar="DIR", help="base model: pretrain checkpoint or HF folder")
    p.add_argument("--data", action="append", required=True, metavar="FILE", help="conversation JSONL (repeatable)")
    p.add_argument("--fim-data", action="append", default=[], metavar="SRC", help="code source for FIM samples")
    p.add_argument("--fim-share", type=float, default=0.1, help="share of samples that are FIM (default 0.1)")
    p.add_argument("--fim-span", choices=("chars", "lines", "node"), default="lines")
    p.add_argument("--spm-rate", type=float, default=0.5)
    p.add_argument("--seq-len", type=int, default=2048, help="longest sample (default 2048)")
    p.add_argument("--overlong", choices=("drop", "truncate"), default="drop", help="longer conversations (default drop)")
    p.add_argument("--no-system-prompt", action="store_true", help="do not add Qwen's default system prompt")
    train_options(p, stage_defaults("sft"))
    p.set_defaults(handler=run_sft)


def run_sft(args: argparse.Namespace) -> int:
    from model.prompt import DEFAULT_SYSTEM_PROMPT
    from training.data.fim import FimConfig
    from training.sft import SftConfig, run_sft as train

    cfg = SftConfig(init_from=args.init_from, data=tuple(args.data), fim_data=tuple(args.fim_data),
                    fim_share=args.fim_share, seq_len=args.seq_len, overlong=args.overlong,
                    system=None if args.no_system_prompt else DEFAULT_SYSTEM_PROMPT,
                    fim=FimConfig(rate=1.0, spm_rate=args.spm_rate, span=args.fim_span), train=train_config(args))
    return report_fit(args, run_stage(args, train, cfg))


def dpo_parser(actions) -> None:
    p = actions.add_parser(
        "dpo", help="offline DPO from preference pairs (trl's DPOTrainer, reference model)",
        description="DPO on JSONL pairs {prompt, chosen, rejected}; the prompt is a user message or a list "
        "of ChatML turns. The reference model is --init-from, frozen. With --from-outcomes: a preference "
        "fine-tune of a LoRA adapter on your own accepted versus dismissed or typed-over completions "
        "(the local outcome store, docs/stats.md); the result exports with 'train lora-export'.",
    )
    p.add_argument("--init-from", metavar="DIR", help="policy start and reference (usually the SFT output)")
    p.add_argument("--data", action="append", default=[], metavar="FILE", help="preference JSONL (repeatable)")
    o = p.add_argument_group("from your own outcomes (--from-outcomes)")
    o.add_argument("--from-outcomes", action="store_true",
                   help="pairs from the local outcome store instead of --data; trains a LoRA adapter")
    o.add_argument("--base", default="qwen2.5-coder-1.5b", help="base model, as for 'train lora'")
    o.add_argument("--adapter", default=None, help="a 'train lora' run folder to start from (default: a fresh adapter)")
    o.add_argument("--store", default=None, help="the outcome store (default: the cache's stats/outcomes.sqlite3)")
    o.add_argument("--since-days", type=float, default=None, help="only outcomes of the last N days")
    o.add_argument("--min-pairs", type=int, default=32, help="fewer usable pairs is an error (default 32)")
    p.add_argument("--beta", type=float, default=0.1, help="DPO beta (default 0.1, Qwen's)")
    p.add_argument("--loss-type", default="sigmoid", help="trl loss type (default sigmoid = DPO)")
    p.add_argument("--max-length", type=int, default=1024, help="prompt + reply tokens (default 1024)")
    p.add_argument("--no-system-prompt", action="store_true", help="do not add Qwen's default system prompt")
    train_options(p, stage_defaults("dpo"))
    p.set_defaults(handler=run_dpo)


def run_dpo(args: argparse.Namespace) -> int:
    from model.prompt import DEFAULT_SYSTEM_PROMPT
    from qwenpair.errors import UserError
    from training.dpo import DpoConfig, run_dpo as train

    if args.from_outcomes:
        return run_outcome_dpo(args)
    if not args.init_from or not args.data:
        raise UserError("train dpo needs --init-from and --data (or --from-outcomes for your own outcomes)")
    cfg = DpoConfig(init_from=args.init_from, data=tuple(args.data), beta=args.beta, loss_type=args.loss_type,
                    max_length=args.max_length, system=None if args.no_system_prompt else DEFAULT_SYSTEM_PROMPT,
                    train=train_config(args))
    history, final = run_stage(args, train, cfg)
    losses = [h["loss"] for h in history if "loss" in h]
    if is_main():
        result = {"checkpoint": str(final) if final else None, "steps": len(losses), "losses": losses,
                  "final_loss": losses[-1] if losses else None}
        if args.json:
            print_json(result)
        elif not args.quiet:
            print(f"dpo: {result['steps']} steps, final loss {result['final_loss']}, checkpoint {final}")
    return 0


def run_outcome_dpo(args: argparse.Namespace) -> int:
    from training.outcome_pairs import OutcomeDpoConfig, run_outcome_dpo as train

    cfg = OutcomeDpoConfig(base=args.base, adapter=args.adapter, store=args.store, since_days=args.since_days,
                           min_pairs=args.min_pairs, beta=args.beta, loss_type=args.loss_type,
                           max_length=args.max_length, train=train_config(args))
    history, adapter = run_stage(args, train, cfg)
    losses = [h["loss"] for h in history if "loss" in h]
    evals = [h["eval_loss"] for h in history if "eval_loss" in h]
    result = {"adapter": str(adapter), "steps": len(losses), "losses": losses,
              "final_loss": losses[-1] if losses else None, "heldout_loss": evals}
    if args.json:
        print_json(result)
    elif not args.quiet:
        print(f"dpo (from outcomes): {result['steps']} steps, held-out preference loss "
              f"{' -> '.join(f'{x:.4f}' for x in evals)}, adapter {adapter}")
    return 0
