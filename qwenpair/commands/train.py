"""``qwenpair train``: the Qwen2.5-Coder recipe at small scale (DESIGN.md §3).

Actions: ``data`` (sources -> tokenized shards), ``classifier`` (fit a fastText-style quality
classifier for the data stage), ``pretrain`` (file-level stage 1, repo-level stage 2),
``sft`` (ChatML, loss on assistant turns, plus a FIM share), ``dpo`` (trl's DPOTrainer with a
reference model), ``lora`` (adapt a base model to one repository) and ``lora-export`` (its
adapter as a GGUF LoRA, or merged into the base and quantized). Handlers only translate options into the configs of
``training/``, imported inside them so that ``qwenpair --help`` stays fast.

Several processes: ``torchrun --nproc_per_node=N -m qwenpair train pretrain ...`` (also sft);
``accelerate launch -m qwenpair train dpo ...``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any


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
    _data_parser(actions)
    _classifier_parser(actions)
    _pretrain_parser(actions)
    _sft_parser(actions)
    _dpo_parser(actions)
    _lora_parser(actions)
    _lora_export_parser(actions)


# -- data ------------------------------------------------------------------------------------


def _data_parser(actions) -> None:
    p = actions.add_parser(
        "data", help="collect, filter, dedup, decontaminate, mix, FIM, pack and shard a corpus",
        description="Build tokenized training shards (numpy memmaps + manifest.json) in OUT. Files are "
        "collected through the workspace path rules (ignore files and secret rules apply). "
        "Rerunning the same command keeps finished shards.",
    )
    p.add_argument("--out", required=True, type=Path, help="output folder for shards, manifest and report")
    src = p.add_argument_group("sources (DIR, REPO@REV for a git revision, or FILE.jsonl with a 'text' field)")
    src.add_argument("--code", action="append", default=[], metavar="SRC", help="code source (repeatable)")
    src.add_argument("--text", action="append", default=[], metavar="SRC", help="prose source (repeatable)")
    src.add_argument("--math", action="append", default=[], metavar="SRC", help="maths source (repeatable)")
    src.add_argument("--mix", default="code=7,text=2,math=1", help="ratio by characters (default: code=7,text=2,math=1)")
    src.add_argument("--mix-until", choices=("first", "all"), default="first",
                     help="stop when the first source runs out, keeping the ratio (default), or use all data")
    src.add_argument("--max-file-bytes", type=int, default=1_000_000, help="skip larger files (default 1000000)")
    s = p.add_argument_group("samples")
    s.add_argument("--level", choices=("file", "repo"), default="file",
                   help="file-level samples (stage 1, default) or repo-level samples (stage 2)")
    s.add_argument("--seq-len", type=int, default=8192, help="tokens per row (default 8192; the report's stage 2: 32768)")
    s.add_argument("--packing", choices=("bestfit", "concat"), default="bestfit",
                   help="whole samples per row, padded (default), or back to back")
    s.add_argument("--overlong", choices=("split", "drop"), default="split",
                   help="documents longer than a row: split at line breaks (default) or drop")
    s.add_argument("--rows-per-shard", type=int, default=1024, help="rows per shard (default 1024)")
    s.add_argument("--fim-rate", type=float, default=0.5, help="share of code samples made FIM (default 0.5)")
    s.add_argument("--spm-rate", type=float, default=0.5, help="share of FIM samples in SPM order (default 0.5)")
    s.add_argument("--fim-span", choices=("chars", "lines", "node"), default="lines",
                   help="the middle: random characters, whole lines (default) or a tree-sitter node")
    s.add_argument("--seed", type=int, default=0, help="FIM and grouping randomness (default 0)")
    q = p.add_argument_group("filters")
    q.add_argument("--no-exact-dedup", action="store_true", help="keep byte-identical documents")
    q.add_argument("--no-near-dedup", action="store_true", help="skip MinHash near-duplicate removal")
    q.add_argument("--near-threshold", type=float, default=0.85, help="Jaccard threshold (default 0.85)")
    q.add_argument("--minhash-perms", type=int, default=128, help="MinHash permutations (default 128)")
    q.add_argument("--shingle", type=int, default=5, help="words per shingle (default 5)")
    q.add_argument("--min-chars", type=int, default=20, help="drop documents with fewer non-blank characters")
    q.add_argument("--max-line-length", type=int, default=1000, help="drop code with a longer line (default 1000)")
    q.add_argument("--max-mean-line-length", type=float, default=100.0, help="default 100")
    q.add_argument("--min-alnum", type=float, default=0.25, help="minimum alphanumeric share (default 0.25)")
    q.add_argument("--keep-generated", action="store_true", help="keep files that say they are generated")
    q.add_argument("--keep-minified", action="store_true", help="keep minified files")
    q.add_argument("--classifier", action="append", default=[], metavar="SPEC[@T]",
                   help="quality classifier (.npz from 'train classifier', fastText .bin, or module:attr) "
                   "and its threshold (default 0.5); repeatable, applied in order")
    q.add_argument("--decontaminate", action="append", default=[], metavar="FILE",
                   help="benchmark file (.jsonl/.json/.parquet): drop documents sharing an n-gram with it")
    q.add_argument("--ngram", type=int, default=10, help="decontamination n-gram in words (default 10)")
    p.add_argument("--overwrite", action="store_true", help="replace shards made with another configuration")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    p.add_argument("--json", action="store_true", help="print the stage report as JSON")
    p.set_defaults(handler=run_data)


def run_data(args: argparse.Namespace) -> int:
    from training.data.dedup import DedupConfig
    from training.data.filters import FilterConfig
    from training.data.fim import FimConfig
    from training.data.mix import parse_ratios
    from training.data.pack import PackConfig
    from training.data.pipeline import DataConfig, run_data as build

    cfg = DataConfig(
        code=tuple(args.code), text=tuple(args.text), math=tuple(args.math),
        ratios=parse_ratios(args.mix), mix_until=args.mix_until, level=args.level,
        pack=PackConfig(seq_len=args.seq_len, packing=args.packing, overlong=args.overlong),
        fim=FimConfig(rate=args.fim_rate, spm_rate=args.spm_rate, span=args.fim_span),
        filters=FilterConfig(min_chars=args.min_chars, max_line_length=args.max_line_length,
                             max_mean_line_length=args.max_mean_line_length, min_alnum_ratio=args.min_alnum,
                             generated=not args.keep_generated, minified=not args.keep_minified),
        dedup=DedupConfig(exact=not args.no_exact_dedup, near=not args.no_near_dedup, threshold=args.near_threshold,
                          num_perm=args.minhash_perms, shingle=args.shingle),
        classifiers=tuple(args.classifier), benchmarks=tuple(args.decontaminate), ngram=args.ngram,
        max_file_bytes=args.max_file_bytes, rows_per_shard=args.rows_per_shard, seed=args.seed,
    )
    log = (lambda m: None) if args.quiet else (lambda m: print(m, file=sys.stderr))
    result = build(cfg, args.out, overwrite=args.overwrite, progress=not args.quiet and not args.json, log=log)
    if args.json:
        _json({"out": str(result.out), **result.report})
    elif not args.quiet:
        _summary(result.report, result.out)
    return 0


def _summary(r: dict[str, Any], out: Path) -> None:
    print(f"shards: {r['shards']} in {out}, {r['rows']} rows, {r['tokens']} tokens (fill {r['fill']:.1%})")
    for kind, counts in r["sources"].items():
        print(f"  {kind}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    for stage in ("filters", "dedup", "decontamination", "overlong"):
        removed = {k: v for k, v in r[stage].items() if v}
        print(f"  {stage}: " + (", ".join(f"{k} {v}" for k, v in removed.items()) or "nothing removed"))
    if r["classifiers"]:
        print(f"  classifiers removed: {r['classifiers']['removed'] or 'nothing'}")
    print(f"  mix shares (chars): {r['mix']['char_shares']}" +
          (f"; stopped when {r['mix']['stopped_when_out_of']} ran out" if r['mix']['stopped_when_out_of'] else ""))
    print(f"  samples: {r['samples']}")
    if r["decontamination"]:
        print(f"  removed documents are listed in {out / 'decontamination.jsonl'}")


# -- classifier ------------------------------------------------------------------------------


def _classifier_parser(actions) -> None:
    p = actions.add_parser("classifier", help="fit a fastText-style quality classifier for 'train data --classifier'",
                           description="Fit a hashed word-n-gram classifier (fastText's supervised model) on "
                           "good and bad examples, collected like training data, and save it as .npz.")
    p.add_argument("--good", action="append", required=True, metavar="SRC", help="source of good examples (repeatable)")
    p.add_argument("--bad", action="append", required=True, metavar="SRC", help="source of bad examples (repeatable)")
    p.add_argument("--out", required=True, type=Path, help="output .npz")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--dim", type=int, default=16, help="embedding size (default 16)")
    p.add_argument("--buckets", type=int, default=1 << 18, help="hash buckets (default 262144)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=run_classifier)


def run_classifier(args: argparse.Namespace) -> int:
    from collections import Counter

    from training.data.classifier import HashedNgramClassifier
    from training.data.sources import iter_documents, parse_source
    from training.errors import DataError

    stats: Counter = Counter()
    texts, labels = [], []
    for label, specs in ((1, args.good), (0, args.bad)):
        for spec in specs:
            for doc in iter_documents(parse_source("code", spec), stats):
                texts.append(doc.text)
                labels.append(label)
    if not texts or len(set(labels)) < 2:
        raise DataError("need at least one good and one bad example")
    clf = HashedNgramClassifier(buckets=args.buckets, dim=args.dim, seed=args.seed)
    losses = clf.fit(texts, labels, epochs=args.epochs, seed=args.seed)
    out = args.out if args.out.suffix == ".npz" else args.out.with_suffix(".npz")
    clf.save(out)
    accuracy = sum((clf.score(t) >= 0.5) == bool(y) for t, y in zip(texts, labels)) / len(texts)
    result = {"out": str(out), "examples": len(texts), "good": sum(labels), "epoch_losses": losses,
              "train_accuracy": accuracy}
    if args.json:
        _json(result)
    else:
        print(f"classifier: {out} ({len(texts)} examples, training accuracy {accuracy:.1%})")
    return 0


# -- pretrain / sft / dpo --------------------------------------------------------------------


def _train_options(p: argparse.ArgumentParser, defaults) -> None:
    g = p.add_argument_group("optimisation")
    g.add_argument("--lr", type=float, default=defaults.lr, help=f"peak learning rate (default {defaults.lr})")
    g.add_argument("--min-lr-ratio", type=float, default=defaults.min_lr_ratio, help="cosine floor as a share of --lr")
    g.add_argument("--warmup-steps", type=int, default=defaults.warmup_steps, help=f"default {defaults.warmup_steps}")
    g.add_argument("--max-steps", type=int, default=defaults.max_steps, help=f"optimizer steps (default {defaults.max_steps})")
    g.add_argument("--micro-batch", type=int, default=defaults.micro_batch, help="sequences per process per micro-step")
    g.add_argument("--grad-accum", type=int, default=defaults.grad_accum, help="micro-steps per optimizer step")
    g.add_argument("--weight-decay", type=float, default=defaults.weight_decay)
    g.add_argument("--grad-clip", type=float, default=defaults.grad_clip, help="max gradient norm (0: off)")
    g.add_argument("--precision", choices=("auto", "bf16", "fp32"), default=defaults.precision,
                   help="auto: bf16 on a GPU that has it, else fp32")
    g.add_argument("--parallel", choices=("ddp", "fsdp"), default=defaults.parallel,
                   help="under torchrun: replicate (ddp, default) or shard (fsdp) the model")
    g.add_argument("--seed", type=int, default=defaults.seed)
    g.add_argument("--save-every", type=int, default=defaults.save_every, help="checkpoint every N steps and at the end")
    g.add_argument("--keep", type=int, default=defaults.keep, help="checkpoints kept")
    r = p.add_argument_group("run")
    r.add_argument("--out", required=True, type=Path, help="run folder (checkpoints, metrics, run.json)")
    r.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --out")
    r.add_argument("--stop-at", type=int, default=None, metavar="STEP",
                   help="stop after this step (the schedule still runs to --max-steps; resume later)")
    r.add_argument("--device", choices=("cpu", "cuda"), default=None, help="default: cuda if available")
    r.add_argument("--quiet", action="store_true", help="no progress bar or log lines")
    r.add_argument("--json", action="store_true", help="print the result as JSON")


def _train_config(args: argparse.Namespace):
    from training.loop import TrainConfig

    return TrainConfig(lr=args.lr, min_lr_ratio=args.min_lr_ratio, warmup_steps=args.warmup_steps,
                       max_steps=args.max_steps, micro_batch=args.micro_batch, grad_accum=args.grad_accum,
                       weight_decay=args.weight_decay, grad_clip=args.grad_clip, precision=args.precision,
                       parallel=args.parallel, seed=args.seed, save_every=args.save_every, keep=args.keep)


def _defaults(stage: str):
    """Stage defaults without importing torch (training.loop imports it only inside functions)."""
    from training.loop import TrainConfig

    if stage == "sft":
        return TrainConfig(lr=5e-5, warmup_steps=100, weight_decay=0.0)
    if stage == "dpo":
        return TrainConfig(lr=1e-6, warmup_steps=10, max_steps=100, micro_batch=2, weight_decay=0.0, save_every=50)
    return TrainConfig()


def _pretrain_parser(actions) -> None:
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
    _train_options(p, _defaults("pretrain"))
    p.set_defaults(handler=run_pretrain)


def run_pretrain(args: argparse.Namespace) -> int:
    from training.pretrain import PretrainConfig, run_pretrain as train

    cfg = PretrainConfig(data=str(args.data), stage=args.stage, shape=args.shape, init_from=args.init_from,
                         rope_theta=args.rope_theta, yarn_factor=args.yarn_factor, yarn_original=args.yarn_original,
                         train=_train_config(args))
    result = train(cfg, args.out, resume=args.resume, stop_at=args.stop_at, device=args.device,
                   progress=not args.quiet and not args.json, log=_log(args))
    return _report_fit(args, result)


def _sft_parser(actions) -> None:
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
    _train_options(p, _defaults("sft"))
    p.set_defaults(handler=run_sft)


def run_sft(args: argparse.Namespace) -> int:
    from model.prompt import DEFAULT_SYSTEM_PROMPT
    from training.data.fim import FimConfig
    from training.sft import SftConfig, run_sft as train

    cfg = SftConfig(init_from=args.init_from, data=tuple(args.data), fim_data=tuple(args.fim_data),
                    fim_share=args.fim_share, seq_len=args.seq_len, overlong=args.overlong,
                    system=None if args.no_system_prompt else DEFAULT_SYSTEM_PROMPT,
                    fim=FimConfig(rate=1.0, spm_rate=args.spm_rate, span=args.fim_span), train=_train_config(args))
    result = train(cfg, args.out, resume=args.resume, stop_at=args.stop_at, device=args.device,
                   progress=not args.quiet and not args.json, log=_log(args))
    return _report_fit(args, result)


def _dpo_parser(actions) -> None:
    p = actions.add_parser(
        "dpo", help="offline DPO from preference pairs (trl's DPOTrainer, reference model)",
        description="DPO on JSONL pairs {prompt, chosen, rejected}; the prompt is a user message or a list "
        "of ChatML turns. The reference model is --init-from, frozen.",
    )
    p.add_argument("--init-from", required=True, metavar="DIR", help="policy start and reference (usually the SFT output)")
    p.add_argument("--data", action="append", required=True, metavar="FILE", help="preference JSONL (repeatable)")
    p.add_argument("--beta", type=float, default=0.1, help="DPO beta (default 0.1, Qwen's)")
    p.add_argument("--loss-type", default="sigmoid", help="trl loss type (default sigmoid = DPO)")
    p.add_argument("--max-length", type=int, default=1024, help="prompt + reply tokens (default 1024)")
    p.add_argument("--no-system-prompt", action="store_true", help="do not add Qwen's default system prompt")
    _train_options(p, _defaults("dpo"))
    p.set_defaults(handler=run_dpo)


def run_dpo(args: argparse.Namespace) -> int:
    from model.prompt import DEFAULT_SYSTEM_PROMPT
    from training.dpo import DpoConfig, run_dpo as train

    cfg = DpoConfig(init_from=args.init_from, data=tuple(args.data), beta=args.beta, loss_type=args.loss_type,
                    max_length=args.max_length, system=None if args.no_system_prompt else DEFAULT_SYSTEM_PROMPT,
                    train=_train_config(args))
    history, final = train(cfg, args.out, resume=args.resume, stop_at=args.stop_at, device=args.device,
                           progress=not args.quiet and not args.json, log=_log(args))
    losses = [h["loss"] for h in history if "loss" in h]
    if _is_main():
        result = {"checkpoint": str(final) if final else None, "steps": len(losses), "losses": losses,
                  "final_loss": losses[-1] if losses else None}
        if args.json:
            _json(result)
        elif not args.quiet:
            print(f"dpo: {result['steps']} steps, final loss {result['final_loss']}, checkpoint {final}")
    return 0


def _report_fit(args: argparse.Namespace, result) -> int:
    if not _is_main():
        return 0
    out = {"checkpoint": str(result.last_checkpoint) if result.last_checkpoint else None, "steps": result.steps,
           "losses": result.losses, "final_loss": result.losses[-1] if result.losses else None,
           "tokens_per_s": round(result.tokens_per_s, 1)}
    if args.json:
        _json(out)
    elif not args.quiet:
        print(f"{args.train_command}: step {out['steps']}, loss {out['final_loss']}, "
              f"{out['tokens_per_s']} tokens/s, checkpoint {out['checkpoint']}")
    return 0


def _is_main() -> bool:
    return os.environ.get("RANK", "0") == "0"


def _log(args: argparse.Namespace):
    if args.quiet or not _is_main():
        return lambda m: None
    return lambda m: print(f"qwenpair train {args.train_command}: {m}", file=sys.stderr)


def _json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


# -- lora ------------------------------------------------------------------------------------


def _lora_parser(actions) -> None:
    from training.lora_config import LoraSettings, SampleConfig

    ls, sc = LoraSettings(), SampleConfig()
    p = actions.add_parser(
        "lora", help="LoRA/QLoRA on your own repository, with the server's own prompts",
        description="Fine-tune a base model on one repository. Samples are the exact prompts the server sends "
        "for masked line, API-call and block spans (repo-level FIM with retrieved snippets), trained on the span; "
        "files are held out by hash or by git recency and the held-out loss is evaluated every --eval-every steps. "
        "The best adapter goes to OUT/adapter; export it with 'qwenpair train lora-export'.",
    )
    p.add_argument("--repo", required=True, type=Path, help="the repository to adapt to")
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
    p.add_argument("--eval-every", type=int, default=20, help="held-out loss every N steps (default 20)")
    p.add_argument("--patience", type=int, default=3, help="stop after N evaluations without improvement (default 3)")
    p.add_argument("--eval-samples", type=int, default=256, help="held-out samples per evaluation, at most (default 256)")
    _train_options(p, _lora_defaults())
    p.set_defaults(handler=run_lora)


def _lora_defaults():
    from training.lora_config import LoraConfig

    return LoraConfig(base="", repo="").train


def run_lora(args: argparse.Namespace) -> int:
    from training.lora import run_lora as train
    from training.lora_config import LoraConfig, LoraSettings, SampleConfig

    targets = tuple(t.strip() for t in args.target_modules.split(",") if t.strip())
    cfg = LoraConfig(
        base=args.base, repo=str(args.repo),
        lora=LoraSettings(r=args.rank, alpha=args.alpha, dropout=args.dropout, target_modules=targets, qlora=args.qlora),
        samples=SampleConfig(kinds=tuple(k.strip() for k in args.kinds.split(",") if k.strip()),
                             per_file=args.samples_per_file, heldout_share=args.heldout_share, split=args.split,
                             context_tokens=args.context_tokens, max_tokens=args.max_tokens, seed=args.seed),
        train=_train_config(args), eval_every=args.eval_every, patience=args.patience,
        eval_samples=args.eval_samples,
    )
    result = train(cfg, args.out, resume=args.resume, stop_at=args.stop_at, device=args.device,
                   progress=not args.quiet and not args.json, log=_log(args))
    out = {"adapter": str(result.adapter) if result.adapter else None, "steps": result.steps,
           "heldout_loss": result.history, "final_train_loss": result.train_losses[-1] if result.train_losses else None,
           "stopped_early": result.stopped_early, "qlora": result.qlora, "tokens_per_s": round(result.tokens_per_s, 1),
           "train_samples": result.n_train, "heldout_samples": result.n_heldout}
    if args.json:
        _json(out)
    elif not args.quiet:
        first, last = result.history[0]["heldout_loss"], result.history[-1]["heldout_loss"]
        where = out["adapter"] or "none written (the held-out loss never improved: try a higher --lr or more steps)"
        print(f"lora: step {out['steps']}, held-out loss {first:.4f} -> {last:.4f}, adapter {where}")
    return 0


def _lora_export_parser(actions) -> None:
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
        _json({k: str(v) for k, v in files.items()})
    else:
        for role, path in files.items():
            print(f"{role}: {path}")
    return 0
