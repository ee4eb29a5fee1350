"""Qwen2.5-Coder knowledge and runtimes.

Special tokens (``model.tokens``), prompt formats (``model.prompt``), the model registry,
downloads, the backends behind one small interface (llama.cpp in-process by default,
transformers, any OpenAI-compatible server), GGUF export and quantization, and the test
models the project builds itself. Imports none of qwenpair's other packages; heavy
libraries (llama_cpp, torch, transformers) are imported lazily inside functions.
"""
