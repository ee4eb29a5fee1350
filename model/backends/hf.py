"""The transformers backend: a Hugging Face checkpoint (+ optional peft LoRA adapter).

CPU or CUDA. Training's evaluation uses it so that a checkpoint can be scored before it is
exported to GGUF. It does not keep a KV cache between calls (it is not on the keystroke
path); within a call it decodes token by token with ``past_key_values``, through the shared
loop (``model.backends.base.stream_tokens``) that streams, stops on the model's stop set,
honours the time cap and is cancelled between steps. Each token's bytes come from the
byte-level vocabulary, so a character split across tokens is decoded whole.

Control-token IDs (FIM, repo, ChatML, the stop set) are the tokenizer's own: each string's
ID among its added tokens (``special``), so another family's numbering is followed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from model.backends.base import GenerationRequest, GenerationResult, OnText, Token, Tokens
from model.backends.base import fit_prompt, stop_ids_for, stream_tokens
from model.errors import BadModelFile, ModelError
from model.prompt import encode_prompt
from model.registry import format_for_architecture
from model.text_tokens import text_ids
from model.tokens import SpecialTokens


class HfBackend:
    def __init__(
        self,
        model: str | Path,
        *,
        adapter: str | Path | None = None,
        device: str = "auto",
        dtype: str = "auto",
        n_ctx: int | None = None,
    ) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        source = Path(model).expanduser()
        ref = str(source) if source.exists() else str(model)  # a local dir, or a hub repo id
        if source.exists() and not (source / "config.json").is_file():
            raise BadModelFile(f"{source} is not a Hugging Face checkpoint directory (no config.json)")
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        torch_dtype = {"auto": (torch.bfloat16 if device == "cuda" else torch.float32),
                       "float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]
        try:
            if source.exists() and not (source / "tokenizer.json").is_file():
                from model.tokenizer import load_hf_tokenizer

                self._tok = load_hf_tokenizer()
            else:
                self._tok = AutoTokenizer.from_pretrained(ref)
            net = AutoModelForCausalLM.from_pretrained(ref, dtype=torch_dtype)
        except OSError as exc:
            raise ModelError(f"cannot load the Hugging Face model {ref}: {exc}") from exc
        if adapter is not None:
            from peft import PeftModel

            net = PeftModel.from_pretrained(net, str(adapter))
        self._net = net.to(device).eval()
        self._device = device
        self._torch = torch
        self.name = ref + (f" + {adapter}" if adapter else "")
        self.n_ctx = n_ctx or int(getattr(net.config, "max_position_embeddings", 32_768))
        added = self._tok.backend_tokenizer.get_added_tokens_decoder()  # id -> AddedToken
        by_text = {tok.content: int(i) for i, tok in added.items()}
        self.special = SpecialTokens.read(by_text.get, ref)
        self._piece = _token_bytes(self._tok.backend_tokenizer, added)
        self.prompt_format = format_for_architecture(str(getattr(net.config, "model_type", "")))
        self.warnings: list[str] = []
        self._lock = threading.Lock()

    def tokenize(self, text: str) -> list[int]:
        # markers by this tokenizer's IDs, text as text: added tokens in text never match
        # (model.text_tokens)
        tok = self._tok.backend_tokenizer
        return encode_prompt(fit_prompt(text, self.special, self.warnings), lambda v: text_ids(tok, v), self.special)

    def detokenize(self, ids: list[int]) -> str:
        return self._tok.decode(ids, skip_special_tokens=False)

    def prefill(self, prompt: str, *, cancel: threading.Event | None = None) -> int:
        return 0  # no cross-call cache: nothing to warm

    def generate(
        self,
        request: GenerationRequest,
        *,
        on_text: OnText | None = None,
        cancel: threading.Event | None = None,
    ) -> GenerationResult:
        torch = self._torch
        ids = self.tokenize(request.prompt)
        result = GenerationResult(text="", prompt_tokens=len(ids))
        if len(ids) + 1 > self.n_ctx:
            raise ModelError(f"the prompt has {len(ids):,} tokens; {self.name} takes {self.n_ctx:,}")
        gen = torch.Generator().manual_seed(request.seed)
        stop_ids = stop_ids_for(request, self.special)
        with self._lock, torch.inference_mode():
            t0 = time.perf_counter()
            out = self._net(torch.tensor([ids], device=self._device), use_cache=True)
            result.prompt_s = time.perf_counter() - t0
            t1 = time.perf_counter()
            deadline = t1 + request.time_limit_s if request.time_limit_s is not None else None
            steps = min(request.max_tokens, self.n_ctx - len(ids))
            stream_tokens(self._tokens(out, steps, request.temperature, gen), request, result,
                          stop_ids=stop_ids, deadline=deadline, on_text=on_text, cancel=cancel)
            result.gen_s = time.perf_counter() - t1
        return result

    def _tokens(self, out, steps: int, temperature: float, gen) -> Tokens:
        """Pick each next token; run the model on it when the loop asks for the next one."""
        torch = self._torch
        past, logits = out.past_key_values, out.logits[0, -1].float()
        for _ in range(steps):
            logp = torch.log_softmax(logits, dim=-1)
            if temperature > 0:
                probs = torch.softmax(logits / temperature, dim=-1).cpu()
                token = int(torch.multinomial(probs, 1, generator=gen))
            else:
                token = int(torch.argmax(logits))
            yield Token(token, self._piece(token), (float(logp[token]),))
            out = self._net(torch.tensor([[token]], device=self._device), past_key_values=past, use_cache=True)
            past, logits = out.past_key_values, out.logits[0, -1].float()
        return "length"

    def close(self) -> None:
        self._net = None


def _token_bytes(tokenizer, added: dict) -> Callable[[int], bytes]:
    """Each token's bytes, for ``tokenizer`` (a ``tokenizers.Tokenizer``). A byte-level BPE
    (Qwen's) spells each byte as one printable character (GPT-2's table); an added token is its
    text. Another decoder's tokens are decoded one by one (a character split across tokens then
    arrives as U+FFFD, which byte-level vocabularies never give)."""
    from tokenizers import decoders

    added_text = {int(i): tok.content.encode("utf-8") for i, tok in added.items()}
    if not isinstance(tokenizer.decoder, decoders.ByteLevel):
        return lambda token: added_text.get(token) or tokenizer.decode([token], skip_special_tokens=False).encode("utf-8")
    byte_of = {ch: b for b, ch in _byte_alphabet().items()}

    def piece(token: int) -> bytes:
        if token in added_text:
            return added_text[token]
        return bytes(byte_of[ch] for ch in tokenizer.id_to_token(token) or "")

    return piece


def _byte_alphabet() -> dict[int, str]:
    """GPT-2's byte-to-character table that byte-level BPE vocabularies are written in: printable
    Latin-1 bytes stand for themselves, the other 68 bytes for characters from U+0100 on."""
    kept = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table = {b: chr(b) for b in kept}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table
