"""Helpers shared by subcommands: FILE:LINE:COL parsing, model options, output."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from qwenpair.errors import UserError


def parse_location(value: str) -> tuple[Path, int, int]:
    """``FILE:LINE:COL`` (1-based, COL in Unicode characters) -> (path, line0, col0)."""
    try:
        file, line, col = value.rsplit(":", 2)
        line_no, col_no = int(line), int(col)
    except ValueError:
        raise UserError(f"expected FILE:LINE:COL (1-based), got {value!r}") from None
    if line_no < 1 or col_no < 1:
        raise UserError(f"LINE and COL are 1-based; got {line_no}:{col_no}")
    path = Path(file).expanduser()
    if not path.is_file():
        raise UserError(f"{path} is not a file")
    return path, line_no - 1, col_no - 1


def read_text(path: Path) -> str:
    """A source file as text; non-UTF-8 bytes are replaced rather than failing."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from exc
    if b"\0" in data[:8192]:
        raise UserError(f"{path} looks binary; qwenpair completes text files")
    return data.decode("utf-8", errors="replace")


def add_model_options(parser: argparse.ArgumentParser, *, default: str | None = None) -> None:
    parser.add_argument(
        "--model",
        default=default,
        help="registry name, .gguf path, HF checkpoint dir or http(s) URL of an OpenAI-compatible "
        "server; 'auto' = the default model if downloaded, else the tiny test model",
    )
    parser.add_argument("--n-ctx", type=int, default=4096, help="context window (default 4096)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores)")
    parser.add_argument("--gpu-layers", type=int, default=0, help="layers to offload to the GPU")
    parser.add_argument("--adapter", default=None, help="LoRA adapter (GGUF for llama.cpp)")


def warn(message: str) -> None:
    print(f"qwenpair: warning: {message}", file=sys.stderr)
