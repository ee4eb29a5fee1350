"""``qwenpair train data`` (sources -> tokenized shards) and ``train classifier`` (a quality
classifier for the data stage's ``--classifier``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from qwenpair.commands.train.runner import print_json


def data_parser(actions) -> None:
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
        print_json({"out": str(result.out), **result.report})
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


def classifier_parser(actions) -> None:
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
        print_json(result)
    else:
        print(f"classifier: {out} ({len(texts)} examples, training accuracy {accuracy:.1%})")
    return 0
