"""``qwenpair model``: manage and make models.

Subcommands: ``vocab`` (cache the Qwen2 vocabulary and tokenizer; ``.ci/setup`` runs it; with
``pull`` the only commands that may download, docs/security.md),
``make-test OUT --shape S`` (build a random-weight test model with the real tokenizer),
``quantize IN OUT --type T`` (llama.cpp's quantizer), and ``list`` / ``pull`` / ``path``
(registry and downloads, in ``commands/model_manage.py``). Handlers are thin: the work is in
``model.vocab``, ``model.tokenizer``, ``model.make_test`` and ``model.quantize``, imported
inside the handlers so that ``qwenpair --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from qwenpair.commands.model_manage import register_manage

SHAPES = ("tiny", "0.5b", "1.5b")
QUANT_TYPES = ("Q8_0", "Q4_K_M", "Q4_0", "Q5_K_M", "Q6_K", "F16")  # mirrors model.quantize.QUANT_TYPES


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "model",
        help="list, download, make and quantize models",
        description="Manage Qwen2.5-Coder models: the registry, downloads, test models, quantization.",
    )
    models = parser.add_subparsers(dest="model_command", metavar="ACTION")
    parser.set_defaults(handler=lambda _args: _missing_action(parser))

    # list, pull, path: registry and downloads (commands/model_manage.py).
    register_manage(models)

    p = models.add_parser(
        "vocab",
        help="cache the Qwen2 vocabulary and the Qwen2.5 tokenizer (downloads the llama-cpp-python sdist once)",
        description="Download the llama-cpp-python source archive (~77 MB, once) with pip from the package "
        "index, keep its Qwen2 vocabulary file and build the Qwen2.5 tokenizer from it. With `model pull`, "
        "the only command that uses the network; every other command needs this done first and never downloads.",
    )
    p.add_argument("--quiet", action="store_true", help="print nothing when all is well (a download is announced)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=run_vocab, uses_network=True)

    p = models.add_parser(
        "make-test",
        help="build a random-weight Qwen2 model with the real tokenizer (HF + GGUF)",
        description="Build a Qwen2-architecture model with random weights and the real Qwen2.5 "
        "tokenizer in OUT: HF safetensors in OUT/hf, GGUF F16 and quantized files beside it. "
        "'tiny' is for tests; '0.5b' and '1.5b' have the released shapes, for speed benchmarks "
        "(minutes and GBs). What these models write is meaningless.",
    )
    p.add_argument("out", metavar="OUT", type=Path)
    p.add_argument("--shape", choices=SHAPES, default="tiny", help="default: tiny")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=run_make_test)

    p = models.add_parser("quantize", help="quantize a GGUF with llama.cpp's quantizer")
    p.add_argument("src", metavar="IN", type=Path, help="input GGUF (F16 or F32)")
    p.add_argument("dst", metavar="OUT", type=Path, help="output GGUF")
    p.add_argument("--type", required=True, metavar="T", help=f"one of {', '.join(QUANT_TYPES)}")
    p.add_argument("--threads", type=int, default=None, help="default: all cores")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=run_quantize)


def run_vocab(args: argparse.Namespace) -> int:
    from model.tokenizer import tokenizer_dir
    from model.vocab import qwen2_vocab_path

    vocab = qwen2_vocab_path(quiet=args.quiet, fetch=True)  # the explicit download step
    result = {"vocab": str(vocab), "tokenizer_dir": str(tokenizer_dir(quiet=args.quiet))}
    if args.json:
        _print_json(result)
    elif not args.quiet:
        print(f"vocabulary: {result['vocab']}\ntokenizer:  {result['tokenizer_dir']}")
    return 0


def run_make_test(args: argparse.Namespace) -> int:
    from model.make_test import make_test_model

    def progress(message: str) -> None:
        print(f"qwenpair: {message}", file=sys.stderr)

    model = make_test_model(args.out, args.shape, progress=None if args.json else progress)
    files = {"hf_dir": model.hf_dir, "F16": model.gguf_f16, **{q: model.quantized(q) for q in model.quants}}
    if args.json:
        _print_json({"shape": model.shape, "root": str(model.root), **{k: str(v) for k, v in files.items()}})
        return 0
    for label, path in files.items():
        size = sum(f.stat().st_size for f in path.rglob("*")) if path.is_dir() else path.stat().st_size
        print(f"{label:7} {path}  ({size / 1e6:.1f} MB)")
    print("note: the weights are random; what this model writes is meaningless", file=sys.stderr)
    return 0


def run_quantize(args: argparse.Namespace) -> int:
    from model.quantize import quantize

    out = quantize(args.src, args.dst, args.type, threads=args.threads)
    before, after = args.src.stat().st_size, out.stat().st_size
    if args.json:
        _print_json(
            {"src": str(args.src), "dst": str(out), "type": args.type.upper(), "src_bytes": before, "dst_bytes": after}
        )
    else:
        print(f"wrote {out} ({after / 1e6:.1f} MB, from {before / 1e6:.1f} MB)")
    return 0


def _missing_action(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _print_json(data: dict) -> None:
    json.dump(data, sys.stdout, indent=2)
    sys.stdout.write("\n")
