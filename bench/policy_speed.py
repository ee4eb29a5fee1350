"""What the source policy costs a completion request (docs/security.md).

Every completion asks ``SourcePolicy(path, text)``: a path verdict (cached per path by
(mtime, size, inode)) and a whole-text secret scan (skipped when the text is unchanged).
This prints, as JSON, the microseconds per request for a document of several sizes, typed
into (the text changes every request, so it is scanned) and unchanged (cached), beside the
old per-request cost (``PathRules.check`` without a scan) measured in the same process.

    python bench/policy_speed.py [--repeat 200]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

from repo_index import PathRules, SourcePolicy


def per_call_us(fn, repeat: int) -> float:
    fn()
    t0 = time.perf_counter()
    for _ in range(repeat):
        fn()
    return 1e6 * (time.perf_counter() - t0) / repeat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    source = Path(__file__).resolve().parents[1] / "repo_index" / "rules.py"
    code = source.read_text()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ws"
        (root / "pkg" / "sub").mkdir(parents=True)
        (root / ".gitignore").write_text("build/\n*.log\n")
        for kb in (10, 50, 200):
            text = (code * (kb * 1024 // len(code) + 1))[: kb * 1024]
            path = root / "pkg" / "sub" / f"doc{kb}.py"
            path.write_text(text)
            policy = SourcePolicy(root)
            rules = PathRules(root)
            typed = [text[:-1] + chr(97 + i % 26) for i in range(args.repeat + 1)]
            it = iter(typed)
            old = per_call_us(lambda: rules.check(path, sniff=False), args.repeat)
            unchanged = per_call_us(lambda: policy(path, text), args.repeat)
            changing = per_call_us(lambda: policy(path, next(it)), args.repeat)
            results.append({"document_kb": kb, "old_path_check_us": round(old, 1),
                            "policy_unchanged_text_us": round(unchanged, 1),
                            "policy_typed_text_us": round(changing, 1),
                            "ratio_typed_to_old": round(changing / old, 2)})
    print(json.dumps({"figure": "source policy cost per completion request", "unit": "microseconds",
                      "machine": f"{platform.machine()} {platform.processor() or platform.system()}",
                      "results": results}, indent=2))


if __name__ == "__main__":
    main()
