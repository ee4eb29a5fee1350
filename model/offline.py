"""Keeps the commands that did not ask for the network off it (docs/security.md, "network").

qwenpair downloads only in two explicit steps: ``qwenpair model pull`` (model weights) and
``qwenpair model vocab`` (the Qwen2 vocabulary; ``.ci/setup`` runs it). The CLI runs every
other command inside ``offline()``, which

- sets ``QWENPAIR_OFFLINE=1``: our own download code (``model.vocab``, ``model.download``)
  then refuses with a ModelError before pip or an HTTP request starts;
- sets ``HF_HUB_OFFLINE``, ``TRANSFORMERS_OFFLINE`` and ``HF_DATASETS_OFFLINE``, so that
  huggingface_hub, transformers and datasets resolve every name from local files only
  (``from_pretrained("Qwen/...")`` fails with their offline error instead of downloading),
  in this process (already imported modules included) and in the processes it starts.

The variables are restored when the command returns, so a test that calls ``main()`` in
process does not leak them. A user can set ``QWENPAIR_OFFLINE=1`` to forbid even the two
download steps. It does not govern an OpenAI-compatible server URL the user gives as the
model (``model.loader``): that connection is the user's explicit request.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from model.errors import ModelError

OFFLINE_ENV = "QWENPAIR_OFFLINE"
#: Read by huggingface_hub (at import), transformers and datasets.
HF_OFFLINE_ENVS = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")


def is_offline() -> bool:
    """True inside ``offline()`` or when the user set ``QWENPAIR_OFFLINE`` to a true value."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() not in ("", "0", "false", "no", "off")


def refuse_network(what: str) -> None:
    """Raise a ModelError instead of ``what`` (a download) when this process must stay offline."""
    if is_offline():
        raise ModelError(
            f"{what} needs the network, and this command never uses it ({OFFLINE_ENV} is set). "
            "Downloads happen only in `qwenpair model vocab` (the vocabulary) and "
            "`qwenpair model pull NAME` (models)"
        )


@contextmanager
def offline() -> Iterator[None]:
    """Run the body with every download path switched off (see the module docstring)."""
    names = (OFFLINE_ENV, *HF_OFFLINE_ENVS)
    saved = {name: os.environ.get(name) for name in names}
    hub = sys.modules.get("huggingface_hub.constants")
    hub_saved = getattr(hub, "HF_HUB_OFFLINE", None)
    for name in names:
        os.environ[name] = "1"
    if hub is not None:  # it reads HF_HUB_OFFLINE once, at import
        hub.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if hub is not None:
            hub.HF_HUB_OFFLINE = hub_saved
