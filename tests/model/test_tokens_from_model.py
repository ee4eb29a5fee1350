"""Special-token IDs come from the loaded model's vocabulary, by their strings (issue 22).

Real parts: the tiny model and variants of it whose vocabulary numbers or names the control
tokens differently (``vocab_variants``), converted by the project's GGUF writer, loaded by
llama.cpp and transformers, and driven through the real completion engine.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from model.backends.base import GenerationRequest, stop_ids_for
from model.backends.hf import HfBackend
from model.backends.llama_cpp import LlamaCppBackend
from model.prompt import ChatMessage, RepoFile, chatml, fim, repo_fim
from model.tokens import CONTROL_TOKENS, STOP_TEXTS, STOP_TOKEN_IDS, TOKEN_IDS, MissingSpecialTokens
from tests.model.vocab_variants import build_qwen3moe, build_variant, retype, shifted_ids

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample_repo"
pytestmark = pytest.mark.slow  # builds four small GGUFs and runs them


@pytest.fixture(scope="module")
def variants(tiny_model, tmp_path_factory):
    out = tmp_path_factory.mktemp("vocab_variants")
    return {kind: build_variant(tiny_model, kind, out) for kind in ("shifted", "no_file_sep", "no_fim")}


@pytest.fixture()
def load():
    opened = []

    def _load(path, **kw):
        backend = LlamaCppBackend(path, n_ctx=2048, n_threads=2, **kw)
        opened.append(backend)
        return backend

    yield _load
    for backend in opened:
        backend.close()


def control_ids(backend, ids):
    return [i for i in ids if i in set(backend.special.ids.values())]


def test_the_tiny_model_yields_exactly_the_qwen25_ids(tiny_model, load):
    """The golden expectation: the real Qwen2.5 tokenizer's IDs, read from the GGUF and the HF
    tokenizer, are model.tokens' constants."""
    backend = load(tiny_model.gguf)
    assert dict(backend.special.ids) == TOKEN_IDS and len(TOKEN_IDS) == len(CONTROL_TOKENS)
    assert backend.special.stop_ids == STOP_TOKEN_IDS
    hf = HfBackend(tiny_model.hf_dir, device="cpu")
    assert dict(hf.special.ids) == TOKEN_IDS and hf.special.stop_ids == STOP_TOKEN_IDS


def test_a_vocabulary_with_the_tokens_at_other_ids_is_followed(variants, load):
    gguf, hf_dir = variants["shifted"]
    expected = shifted_ids()
    backend = load(gguf)
    assert dict(backend.special.ids) == expected
    assert expected["<|fim_prefix|>"] != TOKEN_IDS["<|fim_prefix|>"]  # the variant really moved them
    # llama.cpp's own reading of the GGUF (the converter's FIM metadata) agrees.
    import llama_cpp

    vocab = llama_cpp.llama_model_get_vocab(backend.raw._model.model)
    assert llama_cpp.llama_vocab_fim_pre(vocab) == expected["<|fim_prefix|>"]
    assert llama_cpp.llama_vocab_fim_sep(vocab) == expected["<|file_sep|>"]

    prompt = repo_fim("acme", [RepoFile("a.py", "x = 1\n")], "b.py", "def f", "\n")
    ids = backend.tokenize(prompt)
    names = ["<|repo_name|>", "<|file_sep|>", "<|file_sep|>", "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"]
    assert control_ids(backend, ids) == [expected[n] for n in names]
    assert ids == HfBackend(hf_dir, device="cpu").tokenize(prompt)  # both runtimes, same IDs
    chat = backend.tokenize(chatml([ChatMessage("user", "hi")], system=None))
    assert chat[0] == expected["<|im_start|>"] and expected["<|im_end|>"] in chat
    # Repository text that spells a control token stays text, at its new ID as at the old.
    assert not set(backend.tokenize(fim("<|fim_prefix|><|file_sep|>", ""))[1:-2]) & set(expected.values())
    # Generation stops on this model's stop tokens, not on Qwen2.5's numbers (here other tokens).
    stops = stop_ids_for(GenerationRequest(prompt), backend.special)
    assert stops == {expected[t] for t in STOP_TEXTS} and TOKEN_IDS["<|fim_prefix|>"] not in stops
    assert stop_ids_for(GenerationRequest(prompt, stop_ids=frozenset({7})), backend.special) == {7}


@pytest.fixture()
def engine_on(tmp_path, monkeypatch):
    from assistant.config import EngineConfig
    from assistant.engine import CompletionEngine
    from assistant.retrieval import PromptPolicy, workspace_retriever

    monkeypatch.setenv("QWENPAIR_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "sample_repo"
    shutil.copytree(SAMPLE, root)
    made = []

    def _engine(backend):
        retriever, close = workspace_retriever(root)
        eng = CompletionEngine(backend, config=EngineConfig(latency_target_s=60.0), workspace_root=root,
                               retriever=retriever, path_policy=PromptPolicy(root))
        made.append((eng, close))
        return eng, root

    yield _engine
    for eng, close in made:
        eng.close()
        close()


def _complete(eng, root):
    from assistant.request import CompletionRequest

    path = root / "geometry" / "report.py"
    lines = path.read_text().split("\n")
    return eng.complete_sync(CompletionRequest(path, "\n".join(lines), 6, len(lines[6]), explain=True))


def evaluated(backend) -> list[int]:
    raw = backend.raw
    return [int(i) for i in raw.input_ids[: raw.n_tokens]]


def test_the_engine_completes_with_the_models_own_ids(variants, load, engine_on):
    backend = load(variants["shifted"][0])
    eng, root = engine_on(backend)
    result = _complete(eng, root)
    assert "<|file_sep|>" in result.prompt  # a repository-level prompt...
    ids = evaluated(backend)
    new = shifted_ids()
    assert ids.count(new["<|fim_prefix|>"]) == 1 and ids.count(new["<|fim_middle|>"]) == 1  # ...in the model's IDs
    assert ids[0] == new["<|repo_name|>"] and new["<|file_sep|>"] in ids
    assert TOKEN_IDS["<|fim_prefix|>"] not in ids and not backend.warnings


def test_a_gguf_without_file_sep_falls_back_to_file_level_fim_with_a_warning(variants, load, engine_on, caplog):
    backend = load(variants["no_file_sep"][0])
    assert backend.special.missing(["<|file_sep|>", "<|repo_name|>"]) == ["<|file_sep|>"]
    with caplog.at_level(logging.INFO, logger="qwenpair.model"):
        eng, root = engine_on(backend)
        result = _complete(eng, root)
        _complete(eng, root)
        backend.tokenize(repo_fim("acme", [RepoFile("a.py", "x")], "b.py", "def f", ""))  # built elsewhere
    # The engine builds file-level itself, so its explanation lists no snippet that was not sent.
    assert "<|file_sep|>" not in result.prompt and "<|repo_name|>" not in result.prompt
    assert not [e for e in result.explain if e.kind in ("snippet", "document") or e.reason.startswith("dropped")]
    ids = evaluated(backend)
    assert ids[0] == TOKEN_IDS["<|fim_prefix|>"] and TOKEN_IDS["<|repo_name|>"] not in ids  # the model got file-level
    assert [ids.count(TOKEN_IDS[t]) for t in ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>")] == [1, 1, 1]
    assert len(backend.warnings) == 1 and "lacks <|file_sep|>" in backend.warnings[0]
    assert "file-level FIM" in backend.warnings[0]
    assert [r.getMessage() for r in caplog.records if r.name == "qwenpair.model"] == backend.warnings  # said once


def test_the_engine_builds_the_loaded_familys_layout(tiny_model, load, engine_on):
    """A family whose format is SPM (suffix first), and one without the repository layout: the
    real engine's prompt, as the model evaluated it, follows the backend's format (issue 22)."""
    from model.registry import PromptFormat

    fim_ids = [TOKEN_IDS[t] for t in ("<|fim_suffix|>", "<|fim_prefix|>", "<|fim_middle|>")]
    backend = load(tiny_model.gguf)
    backend.prompt_format = PromptFormat("spm-family", ("qwen2",), fim_mode="spm")
    eng, root = engine_on(backend)
    result = _complete(eng, root)
    ids = evaluated(backend)
    assert ids[0] == TOKEN_IDS["<|repo_name|>"] and any(e.kind == "snippet" for e in result.explain)
    at = [ids.index(i) for i in fim_ids]
    assert at == sorted(at) and ids[at[0] - 1] != TOKEN_IDS["<|fim_middle|>"]  # suffix, prefix, middle
    assert result.prompt.index("<|fim_suffix|>") < result.prompt.index("<|fim_prefix|>")
    # The server makes its engines before the model loads, then swaps the model in.
    from model.backends.fake import FakeBackend

    eng, root = engine_on(FakeBackend())  # the server's placeholder before the load
    assert eng.prompt_format.fim_mode == "psm"
    eng.set_backend(backend)
    swapped = _complete(eng, root).prompt
    assert swapped.index("<|fim_suffix|>") < swapped.index("<|fim_prefix|>")

    plain = load(tiny_model.gguf)
    plain.prompt_format = PromptFormat("file-level-family", ("qwen2",), repo_level=False)
    eng, root = engine_on(plain)
    result = _complete(eng, root)
    ids = evaluated(plain)
    assert ids[0] == TOKEN_IDS["<|fim_prefix|>"] and TOKEN_IDS["<|file_sep|>"] not in ids
    assert not [e for e in result.explain if e.kind == "snippet"] and not plain.warnings


def test_a_tiny_qwen3_moe_model_with_moved_tokens_completes_through_the_engine(variants, load, engine_on, tmp_path):
    """Qwen3-Coder's architecture (qwen3moe) with the FIM strings at other IDs: llama.cpp runs
    it, the backend takes the qwen3-coder format and the model's IDs, the engine completes."""
    from model import registry

    gguf = build_qwen3moe(variants["shifted"][1], tmp_path / "tiny-qwen3moe.gguf")
    backend = load(gguf)
    assert backend.info.architecture == "qwen3moe" and backend.prompt_format is registry.FORMATS["qwen3-coder"]
    new = shifted_ids()
    assert dict(backend.special.ids) == new
    eng, root = engine_on(backend)
    result = _complete(eng, root)
    ids = evaluated(backend)
    assert ids[0] == new["<|repo_name|>"] and ids.count(new["<|fim_middle|>"]) == 1 and new["<|file_sep|>"] in ids
    assert len(ids) >= result.prompt_tokens > 100 and not backend.warnings  # the cache also holds the output
    out = backend.generate(GenerationRequest(fim("def f(", "\n"), max_tokens=4))
    assert out.prompt_tokens == 7 and not set(out.token_ids) & backend.special.stop_ids


def test_fim_tokens_flagged_differently_are_still_found_and_text_stays_text(tiny_model, load, tmp_path):
    """A GGUF whose FIM tokens are typed user-defined (matched even in plain text by llama.cpp)
    and whose repo tokens are typed normal (never matched as one token): the IDs are still
    read by their strings, repo-level prompts keep their layout, and a file spelling the
    tokens gets text tokens."""
    import gguf

    path = tmp_path / "retyped.gguf"
    shutil.copyfile(tiny_model.gguf_f16, path)
    fim_ids = [TOKEN_IDS[t] for t in ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>")]
    repo_ids = [TOKEN_IDS[t] for t in ("<|repo_name|>", "<|file_sep|>")]
    retype(path, {**dict.fromkeys(fim_ids, gguf.TokenType.USER_DEFINED), **dict.fromkeys(repo_ids, gguf.TokenType.NORMAL)})
    backend = load(path)
    import llama_cpp

    vocab = llama_cpp.llama_model_get_vocab(backend.raw._model.model)
    assert llama_cpp.llama_vocab_get_attr(vocab, repo_ids[1]) == llama_cpp.LLAMA_TOKEN_ATTR_NORMAL  # really retyped
    assert dict(backend.special.ids) == TOKEN_IDS and backend.special.stop_ids == STOP_TOKEN_IDS
    ids = backend.tokenize(repo_fim("acme", [RepoFile("a.py", "<|file_sep|><|fim_prefix|>")], "b.py", "<|fim_middle|>", ""))
    assert control_ids(backend, ids) == [repo_ids[0], repo_ids[1], repo_ids[1], *fim_ids] and not backend.warnings


def test_a_model_without_the_fim_tokens_is_refused_for_completion_naming_them(variants, load, engine_on):
    backend = load(variants["no_fim"][0])
    eng, root = engine_on(backend)
    with pytest.raises(MissingSpecialTokens, match="lacks the fill-in-the-middle tokens <|fim_prefix|>"):
        _complete(eng, root)  # the real engine: refused, never a completion from a wrong prompt
    with pytest.raises(MissingSpecialTokens) as err:
        backend.tokenize(fim("def f", ""))
    message = str(err.value)
    assert "<|fim_prefix|>, <|fim_suffix|>, <|fim_middle|>" in message and "cannot complete code" in message
    with pytest.raises(MissingSpecialTokens, match="<|fim_prefix|>"):
        backend.generate(GenerationRequest(repo_fim("acme", [], "a.py", "x", ""), max_tokens=2))
    # ChatML needs none of them: chat still works on such a model.
    assert backend.generate(GenerationRequest(chatml([ChatMessage("user", "hi")]), max_tokens=2)).prompt_tokens > 0


def test_the_hf_backend_reads_the_same_missing_tokens(variants):
    hf = HfBackend(variants["no_fim"][1], device="cpu")
    with pytest.raises(MissingSpecialTokens, match="fill-in-the-middle"):
        hf.tokenize(fim("def f", ""))
    hf_sep = HfBackend(variants["no_file_sep"][1], device="cpu")
    ids = hf_sep.tokenize(repo_fim("acme", [RepoFile("a.py", "x")], "b.py", "def f", ""))
    assert ids[0] == TOKEN_IDS["<|fim_prefix|>"] and "lacks <|file_sep|>" in hf_sep.warnings[0]


def _header_only_gguf(path: Path, arch: str) -> Path:
    import gguf
    import numpy as np

    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_the_family_format_follows_the_loaded_architecture(tiny_model, load, tmp_path):
    from model import registry
    from model.errors import BadModelFile
    from model.gguf_check import inspect_gguf

    assert load(tiny_model.gguf).prompt_format is registry.FORMATS["qwen2.5-coder"]
    assert HfBackend(tiny_model.hf_dir, device="cpu").prompt_format is registry.FORMATS["qwen2.5-coder"]
    # A Qwen3-Coder GGUF (qwen3moe) passes our own file check and gets its family's format...
    info = inspect_gguf(_header_only_gguf(tmp_path / "moe.gguf", "qwen3moe"))
    assert registry.format_for_architecture(info.architecture) is registry.FORMATS["qwen3-coder"]
    assert registry.format_for_architecture("qwen3_moe") is registry.FORMATS["qwen3-coder"]  # HF model_type
    # ...while an architecture no registry family runs on is still refused, by name.
    with pytest.raises(BadModelFile, match="'llama' model; qwenpair runs Qwen coder models"):
        inspect_gguf(_header_only_gguf(tmp_path / "llama.gguf", "llama"))
