"""Model backends behind one small interface (``model.backends.base.Backend``).

- ``llama_cpp``: the default; llama.cpp in-process, one warm context, KV prefix reuse.
- ``hf``: transformers (+ optional peft adapter), CPU or CUDA; training's evaluation uses it.
- ``openai``: any OpenAI-compatible ``/v1/completions`` server (llama-server, vLLM).
- ``fake``: scripted outputs, for unit tests of engine logic only.

``model.loader.load_backend`` picks one from a ``BackendConfig``.
"""
