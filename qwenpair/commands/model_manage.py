"""Handlers of ``qwenpair model list | pull | path`` (registered by commands/model.py)."""

from __future__ import annotations

import argparse
import json
import sys


def run_list(args: argparse.Namespace) -> int:
    from model import registry
    from model.loader import local_path

    rows = []
    for spec in registry.REGISTRY.values():
        path = local_path(spec) if spec.gguf_files else None
        rows.append(
            {
                "name": spec.name,
                "role": spec.role,
                "hf_repo": spec.hf_repo,
                "gguf_repo": spec.gguf_repo,
                "quantizations": list(spec.gguf_files),
                "context": spec.context,
                "parameters": spec.shape.parameters(),
                "downloaded": bool(path and path.exists()),
                "tested_here": spec.tested_here,  # False: an entry from the published files only
                "path": str(path) if path else None,
            }
        )
    if args.json:
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    print(f"{'NAME':32} {'ROLE':18} {'PARAMS':>7} {'CONTEXT':>8}  {'GGUF':26} DOWNLOADED")
    for r in rows:
        quants = ",".join(r["quantizations"]) if len(r["quantizations"]) < 3 else f"{len(r['quantizations'])} quants"
        print(
            f"{r['name']:32} {r['role']:18} {r['parameters'] / 1e9:6.2f}B {r['context']:>8,}  "
            f"{quants or '(hf backend only)':26} {'yes' if r['downloaded'] else ''}"
            + ("  (not tested here)" if not r["tested_here"] else "")
        )
    return 0


def run_pull(args: argparse.Namespace) -> int:
    from model.download import pull

    result = pull(args.name, args.quant)
    if args.json:
        json.dump({"path": str(result.path), "size": result.size, "sha256": result.sha256,
                   "already_present": result.already_present}, sys.stdout)
        sys.stdout.write("\n")
    else:
        state = "already present" if result.already_present else "downloaded"
        print(f"{state}: {result.path} ({result.size / 1e6:.1f} MB)")
    return 0


def run_path(args: argparse.Namespace) -> int:
    from model.loader import resolve_gguf

    print(resolve_gguf(args.name, args.quant))
    return 0


def register_manage(models: argparse._SubParsersAction) -> None:
    """Adds list, pull and path to the ``model`` subcommand's parsers."""
    p = models.add_parser("list", help="the registry: every size, base and instruct")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=run_list)

    p = models.add_parser("pull", help="download a registry model's GGUF (uses the network)")
    p.add_argument("name", help="registry name, e.g. qwen2.5-coder-1.5b")
    p.add_argument("--quant", default=None, help="quantization (default: the registry's)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=run_pull, uses_network=True)

    p = models.add_parser("path", help="print the local .gguf path of a downloaded model")
    p.add_argument("name")
    p.add_argument("--quant", default=None)
    p.set_defaults(handler=run_path)
