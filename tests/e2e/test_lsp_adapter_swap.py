"""Hot-swap end to end: train a LoRA adapter on a small repository, export it, and switch a
running ``qwenpair serve`` (the tiny model, real llama.cpp) to it without a restart.

The server gets the adapter the way a workspace names it: ``qwenpair.switchModel
[{"adapter": path}]`` and ``workspace/didChangeConfiguration {"adapter": ...}``. Checked:
status shows the active adapter, completions still answer after the swap, the server process
and its loaded model stay the same (no reload), an adapter made for another base model is
refused with an error naming both while the current one stays active, and removing the
adapter restores the base model's exact completion.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lsp_server"))  # the shared test client
from lsp_wire import Wire, server_env  # noqa: E402

pytestmark = pytest.mark.slow

MODULE = '''"""Stage {i} helpers."""


def scale_{i}(values, factor={i}):
    return [v * factor for v in values]


def norm_{i}(values):
    total = sum(v * v for v in values)
    return total ** 0.5


class Counter{i}:
    def __init__(self):
        self.count = {i}

    def bump(self, step=1):
        self.count += step
        return self.count
'''


@pytest.fixture(scope="module")
def exported(tiny_model, tmp_path_factory):
    """(workspace, adapter.gguf) from a real four-step run on the workspace, exported."""
    from training.export_lora import export_adapter
    from training.loop import TrainConfig
    from training.lora import run_lora
    from training.lora_config import LoraConfig, LoraSettings, SampleConfig

    base = tmp_path_factory.mktemp("swap")
    root = base / "project"
    (root / "pkg").mkdir(parents=True)
    for i in range(8):
        (root / "pkg" / f"stage_{i}.py").write_text(MODULE.format(i=i))
    cfg = LoraConfig(base=str(tiny_model.hf_dir), repo=str(root), lora=LoraSettings(dropout=0.0),
                     samples=SampleConfig(context_tokens=96, max_tokens=192, per_file=2),
                     train=TrainConfig(lr=1e-2, warmup_steps=1, max_steps=4, micro_batch=4, weight_decay=0.0),
                     eval_every=2, patience=2)
    result = run_lora(cfg, base / "run", progress=False, log=lambda m: None)
    assert result.adapter is not None, result.history
    return root, export_adapter(result.adapter, base / "export")


def switch(wire: Wire, adapter: str | None) -> dict:
    return wire.call("workspace/executeCommand", {"command": "qwenpair.switchModel", "arguments": [{"adapter": adapter}]},
                     timeout=120)


def complete(wire: Wire, uri: str) -> list[str]:
    reply = wire.response(wire.inline(uri, 4, len("    return [v * factor")), timeout=120)
    assert "error" not in reply, reply
    result = reply["result"]
    items = result["items"] if isinstance(result, dict) else result
    return [item["insertText"] if isinstance(item["insertText"], str) else item["insertText"]["value"] for item in items]


def test_the_server_swaps_to_the_exported_adapter_and_completes(exported, tiny_model, tmp_path):
    root, adapter = exported
    wire = Wire(server_env(tmp_path))
    try:
        wire.initialize(root, {"model": str(tiny_model.gguf_f16), "chat_model": str(tiny_model.gguf_f16),
                               "n_ctx": 2048, "threads": 1, "engine": {"max_tokens_single": 8, "max_tokens_multi": 8}})
        uri = wire.open(root / "pkg" / "stage_3.py")
        status = wire.wait_ready()
        assert status["adapter"] is None and status["model_state"] == "ready"
        pid, base_items = wire.process.pid, complete(wire, uri)

        reply = switch(wire, str(adapter))
        assert "error" not in reply, reply
        assert reply["result"]["adapter"] == str(adapter) and reply["result"]["model_state"] == "ready"
        complete(wire, uri)  # answers with the adapter applied
        assert wire.process.pid == pid and wire.process.poll() is None
        assert not any("loading" in json.dumps(p) for p in wire.notifications("$/progress")[-2:])

        # An adapter whose meta.json names another base model is refused; the current one stays.
        other = tmp_path / "other"
        other.mkdir()
        (other / "adapter.gguf").write_bytes(adapter.read_bytes())
        meta = json.loads((adapter.parent / "meta.json").read_text())
        meta["base"] = {"name": "qwen2.5-coder-1.5b", "instruct": False,
                        "shape": {"hidden": 1536, "layers": 28, "heads": 12, "kv_heads": 2, "ffn": 8960, "vocab": 151936}}
        (other / "meta.json").write_text(json.dumps(meta))
        refused = switch(wire, str(other / "adapter.gguf"))
        assert refused["result"]["adapter"] == str(adapter)
        problem = refused["result"]["model_problem"]
        assert "qwen2.5-coder-1.5b" in problem and "hidden 64" in problem and "hidden 1536" in problem
        errors = [m["message"] for m in wire.notifications("window/showMessage") if m["type"] == 1]
        assert any("qwen2.5-coder-1.5b" in e for e in errors)

        # The workspace config names the adapter again, then none: the base model's exact output returns.
        wire.notify("workspace/didChangeConfiguration", {"settings": {"qwenpair": {"adapter": str(adapter)}}})
        wire.wait_for(lambda: wire.status()["adapter"] == str(adapter) and not wire.status()["model_problem"],
                      timeout=60, what="adapter from didChangeConfiguration")
        cleared = switch(wire, None)
        assert cleared["result"]["adapter"] is None
        assert complete(wire, uri) == base_items
        assert wire.shutdown_and_exit() == 0
    finally:
        wire.kill()
