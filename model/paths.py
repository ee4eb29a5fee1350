"""Where qwenpair keeps files on disk: cache, models, test models, vocabulary.

Everything defaults to the XDG cache (``~/.cache/qwenpair``) and can be moved with
environment variables, so tests and CI can point the whole tool at a scratch directory.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """Root of qwenpair's cache: ``$QWENPAIR_CACHE_DIR`` or the user cache directory."""
    return _user_dir("QWENPAIR_CACHE_DIR", "XDG_CACHE_HOME", ".cache")


def models_dir() -> Path:
    """Where ``qwenpair model pull`` puts weights: ``$QWENPAIR_MODELS_DIR`` or ``<cache>/models``."""
    env = os.environ.get("QWENPAIR_MODELS_DIR")
    return Path(env).expanduser() if env else cache_dir() / "models"


def test_models_dir() -> Path:
    """Models the project builds itself (``model make-test``) when no output path is given."""
    return cache_dir() / "test-models"


def vocab_dir() -> Path:
    """The Qwen2 BPE vocabulary taken from the llama-cpp-python sdist (docs/design.md §4)."""
    return cache_dir() / "vocab"


def config_dir() -> Path:
    """User configuration: ``$QWENPAIR_CONFIG_DIR`` or ``~/.config/qwenpair``."""
    return _user_dir("QWENPAIR_CONFIG_DIR", "XDG_CONFIG_HOME", ".config")


def _user_dir(own: str, xdg: str, home_default: str) -> Path:
    """``$own`` when set, else ``qwenpair`` under ``$xdg`` or ``~/<home_default>`` (XDG base dirs)."""
    env = os.environ.get(own)
    if env:
        return Path(env).expanduser()
    base = os.environ.get(xdg)
    return (Path(base).expanduser() if base else Path.home() / home_default) / "qwenpair"
