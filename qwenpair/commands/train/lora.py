"""``qwenpair train lora`` (LoRA/QLoRA on one repository, on the server's own prompts) and
``train lora-export`` (the adapter as a GGUF LoRA, or merged and quantized); see
docs/fine-tuning.md."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from qwenpair.commands.train.runner import print_json, run_stage, train_config, train_options


def lora_parser(actions) -> None:
    from training.lora_config import LoraSettings, NesSampleConfig, SampleConfig

    ls, sc, nc = LoraSettings(), SampleConfig(), NesSampleConfig()
    p = actions.add_parser(
        "lora", help="LoRA/QLoRA on your own repository, with the server's own prompts",
        description="Fine-tune a base model on one repository. Samples are the exact prompts the server sends "
        "for masked line, API-call and block spans (repo-level FIM with retrieved snippets), trained on the span; "
        "files are held out by hash or by git recency and the held-out loss is evaluated every --eval-every steps. "
        "With --task nes the samples are next edits from the git history (the server's next-edit prompts, the "
        "newest commits held out); --task both trains one adapter on both. "
        "The best adapter goes to OUT/adapter; export it with 'qwenpair train lora-export'.",
    )
    p.add_argument("--repo", required=True, type=Path, help="the repository to adapt to")
    p.add_argument("--task", choices=("fim", "nes", "both"), default="fim",
                   help="what the adapter learns: completions (fim, default), next edits from the git history "
                   "(nes), or both in one adapter; train one of each by running twice")
    p.add_argument("--base", default="qwen2.5-coder-1.5b",
                   help="base model: a Hugging Face checkpoint folder, or a registry name / hub id (needs network)")
    a = p.add_argument_group("adapter")
    a.add_argument("--rank", type=int, default=ls.r, help=f"LoRA rank r (default {ls.r})")
    a.add_argument("--alpha", type=float, default=ls.alpha, help=f"LoRA alpha; scale = alpha / r (default {ls.alpha:g})")
    a.add_argument("--dropout", type=float, default=ls.dropout, help=f"LoRA dropout (default {ls.dropout})")
    a.add_argument("--target-modules", default="all-linear",
                   help="comma-separated module names (q_proj,v_proj,...) or all-linear (default)")
    a.add_argument("--qlora", action="store_true", help="4-bit base (needs a CUDA GPU and bitsandbytes; else plain LoRA)")
    s = p.add_argument_group("samples")
    s.add_argument("--kinds", default=",".join(sc.kinds), help="span kinds: line,api,block (default all)")
    s.add_argument("--samples-per-file", type=int, default=sc.per_file, help=f"spans per file and kind (default {sc.per_file})")
    s.add_argument("--heldout-share", type=float, default=sc.heldout_share, help=f"share of files held out (default {sc.heldout_share})")
    s.add_argument("--split", choices=("file", "recency"), default=sc.split,
                   help="hold out by file hash (default) or the most recently changed files in git")
    s.add_argument("--context-tokens", type=int, default=sc.context_tokens,
                   help=f"prompt budget, as the server's context_tokens (default {sc.context_tokens})")
    s.add_argument("--max-tokens", type=int, default=sc.max_tokens, help=f"longest sample (default {sc.max_tokens})")
    n = p.add_argument_group("next-edit samples (--task nes or both)")
    n.add_argument("--nes-commits", type=int, default=nc.max_commits,
                   help=f"newest commits read (default {nc.max_commits})")
    n.add_argument("--nes-heldout-share", type=float, default=nc.heldout_share,
                   help=f"share of those commits, the newest, held out (default {nc.heldout_share})")
    n.add_argument("--nes-max-files", type=int, default=nc.max_files_per_commit,
                   help=f"skip commits touching more files (default {nc.max_files_per_commit})")
    n.add_argument("--nes-per-file", type=int, default=nc.per_file,
                   help=f"targets per file and commit (default {nc.per_file})")
    p.add_argument("--eval-every", type=int, default=20, help="held-out loss every N steps (default 20)")
    p.add_argument("--patience", type=int, default=3, help="stop after N evaluations without improvement (default 3)")
    p.add_argument("--eval-samples", type=int, default=256, help="held-out samples per evaluation, at most (default 256)")
    train_options(p, _lora_defaults())
    p.set_defaults(handler=run_lora)


def _lora_defaults():
    from training.lora_config import LoraConfig

    return LoraConfig(base="", repo="").train


def run_lora(args: argparse.Namespace) -> int:
    from training.lora import run_lora as train
    from training.lora_config import LoraConfig, LoraSettings, NesSampleConfig, SampleConfig

    targets = tuple(t.strip() for t in args.target_modules.split(",") if t.strip())
    cfg = LoraConfig(
        base=args.base, repo=str(args.repo), task=args.task,
        nes=NesSampleConfig(heldout_share=args.nes_heldout_share, max_commits=args.nes_commits,
                            max_files_per_commit=args.nes_max_files, per_file=args.nes_per_file,
                            max_tokens=args.max_tokens),
        lora=LoraSettings(r=args.rank, alpha=args.alpha, dropout=args.dropout, target_modules=targets, qlora=args.qlora),
        samples=SampleConfig(kinds=tuple(k.strip() for k in args.kinds.split(",") if k.strip()),
                             per_file=args.samples_per_file, heldout_share=args.heldout_share, split=args.split,
                             context_tokens=args.context_tokens, max_tokens=args.max_tokens, seed=args.seed),
        train=train_config(args), eval_every=args.eval_every, patience=args.patience,
        eval_samples=args.eval_samples,
    )
    result = run_stage(args, train, cfg)
    out = {"adapter": str(result.adapter) if result.adapter else None, "steps": result.steps,
           "heldout_loss": result.history, "final_train_loss": result.train_losses[-1] if result.train_losses else None,
           "stopped_early": result.stopped_early, "qlora": result.qlora, "tokens_per_s": round(result.tokens_per_s, 1),
           "train_samples": result.n_train, "heldout_samples": result.n_heldout, "task": args.task}
    if args.json:
        print_json(out)
    elif not args.quiet:
        first, last = result.history[0]["heldout_loss"], result.history[-1]["heldout_loss"]
        where = out["adapter"] or "none written (the held-out loss never improved: try a higher --lr or more steps)"
        print(f"lora: step {out['steps']}, held-out loss {first:.4f} -> {last:.4f}, adapter {where}")
    return 0


def lora_export_parser(actions) -> None:
    p = actions.add_parser(
        "lora-export", help="write a trained adapter as a GGUF LoRA, or merged into the base and quantized",
        description="Export OUT/adapter of 'qwenpair train lora' for llama.cpp: an adapter-only GGUF LoRA "
        "(adapter.gguf, applied on top of the base GGUF, hot-swappable in the server), and with --merge the "
        "adapter merged into the base as model-f16.gguf plus each --quant. meta.json beside them records the "
        "base model, prompt format, hyperparameters and evaluation.",
    )
    p.add_argument("--adapter", required=True, type=Path, help="the run folder of 'train lora' (or its adapter/)")
    p.add_argument("--out", required=True, type=Path, help="export folder")
    p.add_argument("--merge", action="store_true", help="also write the merged model (needs the base checkpoint)")
    p.add_argument("--quant", action="append", default=[], metavar="TYPE",
                   help="quantization of the merged model (repeatable; default Q8_0), e.g. Q4_K_M")
    p.add_argument("--base", default=None, help="base checkpoint folder, when it moved since training")
    p.add_argument("--json", action="store_true", help="print the written files as JSON")
    p.set_defaults(handler=run_lora_export)


def run_lora_export(args: argparse.Namespace) -> int:
    from training.export_lora import export_adapter, export_merged

    files = {"adapter": export_adapter(args.adapter, args.out)}
    if args.merge:
        merged = export_merged(args.adapter, args.out, quants=args.quant or ["Q8_0"], base=args.base,
                               log=lambda m: print(f"qwenpair train lora-export: {m}", file=sys.stderr))
        files.update({f"merged_{k.lower()}": v for k, v in merged.items()})
    if args.json:
        print_json({k: str(v) for k, v in files.items()})
    else:
        for role, path in files.items():
            print(f"{role}: {path}")
    return 0
