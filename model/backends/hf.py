"""The transformers backend: a Hugging Face checkpoint (+ optional peft LoRA adapter).

CPU or CUDA. Training's evaluation uses it so that a checkpoint can be scored before it is
exported to GGUF. It does not keep a KV cache between calls (it is not on the keystroke
path); within a call it decodes token by token with ``past_key_values`` so it can stream,
stop on the model's stop set, honour the time cap and be cancelled between steps.

Control-token IDs (FIM, repo, ChatML, the stop set) are the tokenizer's own: each string's
ID among its added tokens (``special``), so another family's numbering is followed.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from model.backends.base import GenerationRequest, GenerationResult, OnText, cut_stop_text, fit_prompt, stop_ids_for
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
            past, logits = out.past_key_values, out.logits[0, -1].float()
            deadline = t1 + request.time_limit_s if request.time_limit_s is not None else None
            text, emitted = "", 0
            hold = max((len(s) for s in request.stop_texts), default=1) - 1
            result.stop_reason = "length"
            for _ in range(min(request.max_tokens, self.n_ctx - len(ids))):
                if cancel is not None and cancel.is_set():
                    result.stop_reason = "cancelled"
                    break
                if deadline is not None and time.perf_counter() > deadline:
                    result.stop_reason = "time"
                    break
                logp = torch.log_softmax(logits, dim=-1)
                if request.temperature > 0:
                    probs = torch.softmax(logits / request.temperature, dim=-1).cpu()
                    token = int(torch.multinomial(probs, 1, generator=gen))
                else:
                    token = int(torch.argmax(logits))
                if token in stop_ids:
                    result.stop_reason = "eos"
                    break
                result.token_ids.append(token)
                result.logprobs.append(float(logp[token]))
                text = self._tok.decode(result.token_ids, skip_special_tokens=False)
                if request.stop_texts:
                    text, stopped = cut_stop_text(text, request.stop_texts)
                    if stopped:
                        result.stop_reason = "stop_text"
                        break
                safe = len(text) - hold
                if text.endswith("\ufffd"):  # an incomplete UTF-8 sequence: wait for the rest
                    safe = min(safe, len(text) - 1)
                if on_text is not None and safe > emitted:
                    on_text(text[emitted:safe])
                    emitted = safe
                out = self._net(torch.tensor([[token]], device=self._device), past_key_values=past, use_cache=True)
                past, logits = out.past_key_values, out.logits[0, -1].float()
            if on_text is not None and len(text) > emitted:
                on_text(text[emitted:])
            result.text = text
            result.gen_s = time.perf_counter() - t1
        return result

    def close(self) -> None:
        self._net = None
