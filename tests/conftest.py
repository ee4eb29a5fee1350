"""Fixtures shared by the whole suite.

``tiny_model`` is the project's own tiny Qwen2 model (real Qwen2.5 tokenizer, random weights;
see ``model.make_test``). It is built at most once per test session and cached across
sessions under ``test_models_dir()/tiny-v<build version>``, like the Qwen2 vocabulary in
``vocab_dir()`` (which ``.ci/setup`` fetches with ``qwenpair model vocab``; no fixture
downloads anything, so the suite needs set-up to have run). The cache
directory is deliberately not redirected to a scratch directory: rebuilding these for every
session would cost minutes. Tests that write files use ``tmp_path``.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_model():
    """The tiny test model: ``.gguf`` (Q8_0), ``.gguf_f16``, ``.hf_dir``, ``.tokenizer_dir``."""
    from model.make_test import cached_test_model

    return cached_test_model("tiny")


@pytest.fixture(scope="session")
def qwen_tokenizer():
    """The Qwen2.5 tokenizer as a ``tokenizers.Tokenizer`` (built once, cached)."""
    from model.tokenizer import load_fast_tokenizer

    # Never downloads (docs/security.md): .ci/setup runs `qwenpair model vocab` before the suite;
    # without it this fails with a ModelError naming that step.
    return load_fast_tokenizer()
