"""Two LoRA GGUF exports into one folder at once (issue 18 fault matrix: GGUF export).

The first writer is a real process stopped (SIGSTOP) while it writes its temporary file; a
second export to the same ``adapter.gguf`` runs to the end meanwhile; then the first one goes
on. Each writer has a temporary file of its own, so both finish, the adapter is one whole
writer's (the last rename wins) and no temporary is left. With one fixed temporary name the
second writer truncated the first one's file, the first then wrote into the renamed adapter
and its own rename failed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]

#: Enough data that the first writer is caught mid-write (4 pairs of 6 MB matrices).
SHAPES = [(f"blk.{i}.attn_q.weight", (8, 196_608), (196_608, 8)) for i in range(4)]

WRITER = """
import sys
import numpy as np
sys.path.insert(0, {root!r})
from model.lora_gguf import write_lora_gguf
rng = np.random.default_rng({seed})
pairs = {{name: (rng.standard_normal(a, dtype=np.float32), rng.standard_normal(b, dtype=np.float32))
         for name, a, b in {shapes!r}}}
write_lora_gguf({out!r}, pairs, alpha={alpha})
"""


def _pairs(seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return {name: (rng.standard_normal(a, dtype=np.float32), rng.standard_normal(b, dtype=np.float32))
            for name, a, b in SHAPES}


def _writer(out: Path, seed: int, alpha: float) -> subprocess.Popen:
    code = WRITER.format(root=str(ROOT), seed=seed, shapes=SHAPES, out=str(out), alpha=alpha)
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _temporaries(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name != "adapter.gguf"]


def _read(path: Path) -> tuple[float, dict[str, np.ndarray]]:
    import gguf

    reader = gguf.GGUFReader(str(path))
    alpha = float(reader.fields["adapter.lora.alpha"].parts[-1][0])
    return alpha, {t.name: np.array(t.data) for t in reader.tensors}


def test_two_concurrent_lora_exports_do_not_clobber_each_other(tmp_path):
    out = tmp_path / "adapter.gguf"
    first = _writer(out, seed=1, alpha=8.0)
    caught = False
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and first.poll() is None:
            if any(p.stat().st_size > 0 for p in _temporaries(tmp_path) if p.exists()):
                os.kill(first.pid, signal.SIGSTOP)
                caught = not out.exists()  # still writing: nothing renamed yet
                break
            time.sleep(0.0005)
        assert caught, "the first export was not caught while writing its temporary file; enlarge SHAPES"

        second = _writer(out, seed=2, alpha=16.0)
        _, err = second.communicate(timeout=120)
        assert second.returncode == 0, err
        assert _read(out)[0] == 16.0
    finally:
        os.kill(first.pid, signal.SIGCONT)
    _, err = first.communicate(timeout=120)

    assert first.returncode == 0, f"the first export failed after the second one ran: {err}"
    alpha, tensors = _read(out)
    expected = _pairs(1)
    assert alpha == 8.0  # the last rename wins, with a whole adapter
    for name, (a, b) in expected.items():
        assert np.array_equal(tensors[f"{name}.lora_a"].reshape(a.shape), a)
        assert np.array_equal(tensors[f"{name}.lora_b"].reshape(b.shape), b)
    assert _temporaries(tmp_path) == []


def test_a_killed_exports_temporary_is_removed_by_the_next_export(tmp_path):
    out = tmp_path / "adapter.gguf"
    writer = _writer(out, seed=1, alpha=8.0)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and writer.poll() is None:
        if any(p.stat().st_size > 0 for p in _temporaries(tmp_path) if p.exists()):
            break
        time.sleep(0.0005)
    writer.kill()
    writer.wait()
    left = _temporaries(tmp_path)
    assert left and not out.exists(), "the export was not killed while writing; enlarge SHAPES"

    from model.lora_gguf import write_lora_gguf

    write_lora_gguf(out, _pairs(3), alpha=4.0)
    assert _read(out)[0] == 4.0
    assert _temporaries(tmp_path) == []
