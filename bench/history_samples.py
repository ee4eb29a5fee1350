"""How fast next-edit samples come out of a long git history (training/nes_samples.py).

Writes a synthetic history with ``git fast-import`` (``--commits`` commits over ``--files``
Python modules; each commit edits one module in two to four places 4 lines apart, so most
commits give samples; lines keep their size, so late commits cost what early ones do; every 50th
commit touches ``--wide`` files, to exercise the file cap), then
builds every sample in this process exactly as ``qwenpair train lora --task nes`` does: one
``git log -p`` stream, one ``git cat-file --batch``, the server's edit history and next-edit
prompt builder, the Qwen tokenizer. Prints JSON: samples per second, commits per second, the
sample counts and the peak RSS of this process (every sample held in memory, as training holds
them; the git processes are not counted).

    python bench/history_samples.py [--commits 10000] [--repo PATH]

``--repo`` measures an existing repository instead (its newest ``--commits`` commits).
"""

from __future__ import annotations

import argparse
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Timer, emit  # noqa: E402


def module_lines(rng: random.Random, n: int) -> list[str]:
    out = [f'"""Module {n}."""', "", "import math", ""]
    for f in range(12):
        out += [f"def f{n}_{f}(x, y={rng.randint(0, 9)}):", f"    total = x * {f + 1} + y",
                f"    return math.sqrt(total + {rng.randint(0, 9)})", ""]
    return out


def write_history(root: Path, commits: int, files: int, wide: int, seed: int = 0) -> None:
    """``commits`` commits through one fast-import process, streamed (nothing held but the files)."""
    rng = random.Random(seed)
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    proc = subprocess.Popen(["git", "-C", str(root), "fast-import", "--quiet"], stdin=subprocess.PIPE)
    assert proc.stdin is not None
    mods = {n: module_lines(rng, n) for n in range(files)}

    def blob(lines: list[str]) -> bytes:
        data = "".join(f"{s}\n" for s in lines).encode()
        return f"data {len(data)}\n".encode() + data + b"\n"

    when = 1_600_000_000
    for c in range(1, commits + 1):
        when += 600
        touched = range(files) if c == 1 else (rng.sample(range(files), min(wide, files)) if c % 50 == 0 else
                                                 [rng.randrange(files)])
        body = b""
        for n in touched:
            lines = mods[n]
            if c > 1:  # two to four functions in a row get a new factor: edits 4 lines apart, one window
                first = rng.randrange(0, 12 - 4)
                for f in range(first, first + rng.randint(2, 4)):
                    lines[4 + 4 * f + 1] = f"    total = x * {rng.randint(1, 99)} + y"  # lines keep their size
            body += f"M 100644 inline pkg/m{n}.py\n".encode() + blob(lines)
        msg = f"c{c}"
        head = f"commit refs/heads/main\ncommitter b <b@b> {when} +0000\ndata {len(msg)}\n{msg}\n"
        proc.stdin.write(head.encode() + body + b"\n")
    proc.stdin.close()
    if proc.wait() != 0:
        raise SystemExit("git fast-import failed")
    subprocess.run(["git", "-C", str(root), "checkout", "-q", "-f", "main"], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--commits", type=int, default=10_000)
    parser.add_argument("--files", type=int, default=200, help="modules in the synthetic history (default 200)")
    parser.add_argument("--wide", type=int, default=150, help="files touched by every 50th commit (default 150)")
    parser.add_argument("--max-files", type=int, default=100, help="the sampler's file cap per commit (default 100)")
    parser.add_argument("--repo", type=Path, default=None, help="measure this repository instead")
    args = parser.parse_args()

    from training.lora_config import NesSampleConfig
    from training.nes_samples import build_nes_samples

    with tempfile.TemporaryDirectory() as tmp:
        repo = args.repo
        made_s = None
        if repo is None:
            repo = Path(tmp) / "synthetic"
            with Timer() as made:
                write_history(repo, args.commits, args.files, args.wide)
            made_s = round(made.s, 2)
        cfg = NesSampleConfig(max_commits=args.commits, max_files_per_commit=args.max_files)
        with Timer() as took:
            built = build_nes_samples(repo, cfg, require=False)
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # every sample is held, as training does
    n = len(built.train) + len(built.heldout)
    stats = built.stats
    emit([{
        "repo": "synthetic" if args.repo is None else str(args.repo),
        "commits_read": stats["commits"],
        "samples": n,
        "train_samples": len(built.train),
        "heldout_samples": len(built.heldout),
        "seconds": round(took.s, 2),
        "samples_per_s": round(n / took.s, 1),
        "commits_per_s": round(stats["commits"] / took.s, 1),
        "peak_rss_mb": round(own / 2**20, 1),
        "skipped": {k: v for k, v in stats.items() if k.startswith(("skipped", "no case", "overlong"))},
    }], history_written_s=made_s, config={"max_files_per_commit": cfg.max_files_per_commit, "per_file": cfg.per_file,
                                           "heldout_share": cfg.heldout_share})


if __name__ == "__main__":
    main()
