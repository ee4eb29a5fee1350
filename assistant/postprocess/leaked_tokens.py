"""Filter: cut the completion at the first leaked special-token text.

Generation stops on the special-token IDs, but a backend that decodes text (or a sampled
candidate, or an OpenAI-compatible server) can still hand back ``<|file_sep|>``,
``<|endoftext|>`` or CodeQwen's pipe-less ``<fim_suffix>`` as plain text; whatever follows is
another file or noise. The table of token texts lives in ``model.tokens``, not here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from model.tokens import cut_at_leaked_token

if TYPE_CHECKING:
    from assistant.postprocess.context import CompletionContext


def cut_leaked_tokens(text: str, ctx: CompletionContext) -> str:
    """``text`` up to the first leaked special token."""
    return cut_at_leaked_token(text)
