"""Which models the server runs, loading them, and sharing one loaded model safely.

``resolve`` turns a configured reference into something loadable ("auto" = the registry
default if downloaded) or a ``ModelError`` that says how to fix it. ``load_models`` loads
the completion model and the chat model, sharing one backend when both name the same model.
``SharedBackend`` serialises calls to one loaded model from several engines (one per
workspace root) and chat: llama.cpp contexts are not thread-safe.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from model import registry
from model.backends.base import Backend, GenerationRequest, GenerationResult, OnText
from model.errors import ModelError, ModelNotFound
from model.loader import BackendConfig, load_backend, resolve_gguf

from lsp_server.settings import ServerSettings


def resolve(reference: str, default: str, setting: str) -> str:
    """A loadable reference; "auto" = ``default`` if downloaded, else a ModelNotFound that
    tells the user to pull it or to set ``setting``."""
    if reference != "auto":
        return reference
    try:
        return str(resolve_gguf(default))
    except ModelNotFound:
        raise ModelNotFound(
            f"no {setting} is available: {default} is not downloaded. Run `qwenpair model pull {default}`, "
            f"or set \"{setting}\" to a .gguf path in initializationOptions or ~/.config/qwenpair/config.toml"
        ) from None


class SharedBackend:
    """A loaded backend behind a lock; ``close`` is the owner's job (``Models.close``)."""

    def __init__(self, backend: Backend, lock: threading.Lock) -> None:
        self.inner = backend
        self._lock = lock
        self.name = backend.name
        self.n_ctx = backend.n_ctx

    def tokenize(self, text: str) -> list[int]:
        with self._lock:
            return self.inner.tokenize(text)

    def detokenize(self, ids: list[int]) -> str:
        with self._lock:
            return self.inner.detokenize(ids)

    def generate(self, request: GenerationRequest, *, on_text: OnText | None = None,
                 cancel: threading.Event | None = None) -> GenerationResult:
        with self._lock:
            return self.inner.generate(request, on_text=on_text, cancel=cancel)

    def prefill(self, prompt: str, *, cancel: threading.Event | None = None, **steps) -> int:
        with self._lock:
            return self.inner.prefill(prompt, cancel=cancel, **steps)

    def cached_tokens(self, prompt: str) -> tuple[int, int] | None:
        """The inner backend's (cached, total) for ``prompt``; None when it keeps no KV cache
        (assistant/growth.py then estimates and does not grow)."""
        probe = getattr(self.inner, "cached_tokens", None)
        with self._lock:
            return probe(prompt) if probe is not None else None

    def close(self) -> None:
        """Nothing: the model belongs to ``Models``."""


@dataclass
class Models:
    """The loaded models. ``chat`` is None (with ``chat_problem`` saying why) when no chat
    model is available; it is the completion model itself when both name the same file."""

    completion: Backend
    completion_ref: str
    adapter: str | None
    chat: Backend | None
    chat_ref: str | None
    chat_problem: str = ""

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.chat_lock = self.lock if self.chat is self.completion else threading.Lock()

    def shared_completion(self) -> SharedBackend:
        return SharedBackend(self.completion, self.lock)

    def shared_chat(self) -> SharedBackend | None:
        return SharedBackend(self.chat, self.chat_lock) if self.chat is not None else None

    def close(self) -> None:
        with self.lock:
            self.completion.close()
        if self.chat is not None and self.chat is not self.completion:
            with self.chat_lock:
                self.chat.close()


def _config(settings: ServerSettings, model: str, adapter: str | None) -> BackendConfig:
    return BackendConfig(model=model, n_ctx=settings.n_ctx, n_threads=settings.threads or None,
                         n_gpu_layers=settings.gpu_layers, adapter=adapter)


def _same(a: str, b: str) -> bool:
    try:
        return Path(a).expanduser().resolve() == Path(b).expanduser().resolve()
    except OSError:
        return a == b


def load_models(settings: ServerSettings, report: Callable[[str], None]) -> Models:
    """Load what ``settings`` names. A completion model that cannot load raises
    ``ModelError``; a chat model that cannot load leaves ``chat`` None with the reason."""
    completion_ref = resolve(settings.model, registry.DEFAULT_COMPLETION_MODEL, "model")
    report(f"loading {completion_ref}")
    try:
        completion = load_backend(_config(settings, completion_ref, settings.adapter))
    except ModelError:
        raise
    except Exception as exc:  # llama.cpp reports a bad file as ValueError/RuntimeError
        raise ModelError(f"cannot load model {completion_ref}: {exc}. Check the file, or set \"model\" to another one") from exc
    chat: Backend | None = None
    chat_ref: str | None = None
    problem = ""
    try:
        chat_ref = resolve(settings.chat_model, registry.DEFAULT_CHAT_MODEL, "chat_model")
        if _same(chat_ref, completion_ref):
            chat = completion
        else:
            report(f"loading {chat_ref}")
            chat = load_backend(_config(settings, chat_ref, None))
    except Exception as exc:
        chat, chat_ref, problem = None, None, str(exc)
    return Models(completion, completion_ref, settings.adapter, chat, chat_ref, problem)


def rss_mb() -> float:
    """Resident memory of this process, in MB."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return round(pages * os.sysconf("SC_PAGE_SIZE") / 1e6, 1)
    except (OSError, ValueError, IndexError):
        import resource

        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3, 1)  # peak, KB on Linux
