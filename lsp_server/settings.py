"""Server settings: typed, parsed once at the boundary, bad values fall back visibly.

Sources, later ones winning key by key: the defaults below, ``~/.config/qwenpair/config.toml``
(``$QWENPAIR_CONFIG`` names another file; ``$QWENPAIR_CONFIG_DIR`` moves the directory), the
editor's ``initializationOptions``, then each ``workspace/didChangeConfiguration``, then
the ``qwenpair serve`` command line. ``SERVER_ONLY`` keys (the log file) come from the
config file and the command line only: ``client_layer`` drops them from what a client
sends, with a message (docs/security.md). Engine
settings live in an ``[engine]`` table (``assistant.config.EngineConfig`` fields), chat and
edit settings in ``[chat]`` (``assistant.chat_prompt.ChatConfig``), next-edit settings in
``[next_edit]`` (``assistant.next_edit.NextEditConfig``), suggestion statistics in ``[stats]``
(``assistant.outcomes.StatsConfig``). Every key
that is unknown or invalid yields a message naming it, and its default is used: one converter
for all three (``assistant.settings_convert``), driven by each field's type and ``setting``
bounds and choices. docs/configuration.md's tables are these fields (a test compares them).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant import settings_convert
from assistant.chat_prompt import ChatConfig
from assistant.config import EngineConfig
from assistant.next_edit import NextEditConfig
from assistant.outcomes import StatsConfig
from assistant.settings_convert import setting
from model.paths import config_dir

_LEVELS = ("debug", "info", "warning", "error")


@dataclass(frozen=True)
class ServerSettings:
    model: str = setting("auto", nonempty=True, expected="a model name or path")
    """Completion model: registry name, `.gguf` path, HF checkpoint directory or URL of an
    OpenAI-compatible server. `auto` = `qwen2.5-coder-1.5b` if downloaded; otherwise
    completions are empty and a message says to run `qwenpair model pull qwen2.5-coder-1.5b`
    or set `model`."""
    chat_model: str = setting("auto", nonempty=True, expected="a model name or path")
    """Chat and edit (instruct) model; `auto` = `qwen2.5-coder-1.5b-instruct` if downloaded.
    The same file as `model` shares one loaded model (and its adapter)."""
    adapter: str | None = setting(None, expected="a path or null")
    """LoRA adapter for the completion model (GGUF LoRA for llama.cpp, peft directory for hf);
    null or "" for none."""
    n_ctx: int = setting(4096, min=256)
    """Context window allocated per model, in tokens."""
    threads: int = setting(0, min=0)
    """CPU threads for the model; 0 = one per core."""
    gpu_layers: int = setting(0, min=-1)
    """Layers offloaded to a GPU build of llama.cpp (-1 = all)."""
    calibrate: bool = True
    """Measure prompt and generation speed once after a model loads (sizes cold prompts to
    `engine.latency_target_s`)."""
    watch: bool = True
    """Watch workspace folders for file changes after the first index."""
    log_file: str = setting("", expected="a path")
    """Server log; "" = `$QWENPAIR_CACHE_DIR/logs/server.log` (`~/.cache/qwenpair/logs/server.log`),
    rotated at 5 MB, two kept. Config file or `serve --log-file` only, never the editor. One
    record per line: control characters (newline, CR, ESC...) are written as escapes (`\\n`,
    `\\x1b`), tracebacks are indented by four spaces."""
    log_level: str = setting("info", choices=_LEVELS)
    """Level of the log file and window/logMessage; `debug` also logs every LSP message."""
    engine: EngineConfig = field(default_factory=EngineConfig)
    """Completion engine settings, the ``[engine]`` table (see assistant/config.py)."""
    chat: ChatConfig = field(default_factory=ChatConfig)
    """Chat and edit settings, the ``[chat]`` table (see assistant/chat_prompt.py)."""
    next_edit: NextEditConfig = field(default_factory=NextEditConfig)
    """Next-edit settings, the ``[next_edit]`` table (see assistant/next_edit.py)."""
    stats: StatsConfig = field(default_factory=StatsConfig)
    """Suggestion statistics, the ``[stats]`` table (see assistant/outcomes.py, docs/stats.md)."""


#: Settings a client may not choose: with ``log_file`` a client (a TCP peer, say) could make
#: the server create directories and append to any file it can write.
SERVER_ONLY = ("log_file",)
_TABLES = {"engine": EngineConfig, "chat": ChatConfig, "next_edit": NextEditConfig, "stats": StatsConfig}


def config_path() -> Path:
    explicit = os.environ.get("QWENPAIR_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    return config_dir() / "config.toml"


def read_config_file(path: Path | None = None) -> tuple[dict[str, Any], list[str]]:
    """The TOML file as a mapping ({} when absent) and any message about reading it."""
    path = path or config_path()
    try:
        with path.open("rb") as f:
            return tomllib.load(f), []
    except FileNotFoundError:
        return {}, []
    except (OSError, tomllib.TOMLDecodeError) as exc:
        return {}, [f"cannot read {path}: {exc}; using defaults (fix or delete the file)"]


def merge(*layers: dict[str, Any] | None) -> dict[str, Any]:
    """Later layers win key by key; the ``engine`` and ``chat`` tables merge one level deeper."""
    out: dict[str, Any] = {}
    for layer in layers:
        for key, value in (layer or {}).items():
            if key in _TABLES and isinstance(value, dict) and isinstance(out.get(key), dict):
                out[key] = {**out[key], **value}
            else:
                out[key] = value
    return out


def client_layer(values: Any, source: str) -> tuple[Any, list[str]]:
    """``values`` from a client (``source`` names the message) less the ``SERVER_ONLY``
    keys, and a message for each one dropped."""
    if not isinstance(values, dict):
        return values, []
    dropped = [key for key in values if str(key).replace("-", "_") in SERVER_ONLY]
    kept = {key: value for key, value in values.items() if key not in dropped}
    return kept, [f"setting {key!r} from {source} ignored: the log file is a server-side setting "
                  "(log_file in the config file, or `qwenpair serve --log-file`)" for key in dropped]


def parse(values: Any) -> tuple[ServerSettings, list[str]]:
    """Settings from untrusted input; every key that falls back gets a message naming it."""
    if not isinstance(values, dict):
        if values is None:
            return ServerSettings(), []
        return ServerSettings(), [f"qwenpair settings must be an object, got {type(values).__name__}; using defaults"]
    return settings_convert.from_mapping(ServerSettings, values)


def model_fields_changed(old: ServerSettings, new: ServerSettings) -> bool:
    """Whether a change needs the models reloaded."""
    keys = ("model", "chat_model", "adapter", "n_ctx", "threads", "gpu_layers")
    return any(getattr(old, k) != getattr(new, k) for k in keys)
