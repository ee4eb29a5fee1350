"""The rebuilt Qwen2.5 tokenizer is exact, and the vocabulary fetch fails clearly.

Exactness: every case of llama.cpp's Qwen2 tokenizer test vectors
(``ggml-vocab-qwen2.gguf.inp`` / ``.out``, produced with the real Hugging Face tokenizer)
through our ``tokenizers`` build and through transformers. The vocabulary comes from the
project's own set-up (``qwenpair model vocab``, which ``.ci/setup`` runs); no fixture downloads it.
"""

from __future__ import annotations

import io
import tarfile
import unicodedata

import pytest

from model import vocab
from model.errors import ModelError
from model.prompt import ChatMessage, chatml
from model.tokens import CONTROL_TOKENS, ENDOFTEXT_ID, FIM_PREFIX_ID, IM_END_ID, TOKEN_IDS, TOKENIZER_SIZE


@pytest.fixture(scope="module")
def vectors():
    cases = vocab.read_test_vectors()
    assert len(cases) >= 40  # the file has 46 cases; fewer means it was misparsed
    return cases


@pytest.fixture(scope="module")
def hf_tokenizer():
    from model.tokenizer import load_hf_tokenizer

    return load_hf_tokenizer()


def mismatches(encode, cases):
    return [(text, want, got) for text, want in cases if (got := encode(text)) != want]


def test_fast_tokenizer_matches_every_test_vector(qwen_tokenizer, vectors):
    bad = mismatches(lambda t: qwen_tokenizer.encode(t, add_special_tokens=False).ids, vectors)
    assert not bad, "\n".join(f"{t!r}: want {w} got {g}" for t, w, g in bad)


def test_transformers_tokenizer_matches_every_test_vector(hf_tokenizer, vectors):
    bad = mismatches(lambda t: hf_tokenizer(t)["input_ids"], vectors)  # default call: no BOS added
    assert not bad, "\n".join(f"{t!r}: want {w} got {g}" for t, w, g in bad)


def test_decoding_gives_back_the_nfc_text(qwen_tokenizer, vectors):
    for text, ids in vectors:
        assert qwen_tokenizer.decode(ids, skip_special_tokens=False) == unicodedata.normalize("NFC", text)


def test_every_control_token_is_one_token_at_its_id(qwen_tokenizer, hf_tokenizer):
    assert qwen_tokenizer.get_vocab_size() == TOKENIZER_SIZE == len(hf_tokenizer)
    for text in CONTROL_TOKENS:
        assert qwen_tokenizer.encode(text, add_special_tokens=False).ids == [TOKEN_IDS[text]], text
        assert hf_tokenizer.convert_tokens_to_ids(text) == TOKEN_IDS[text], text


def test_fim_tokens_in_text_are_never_split(qwen_tokenizer):
    ids = qwen_tokenizer.encode("x=1<|fim_prefix|>def f<|fim_suffix|><|fim_middle|>", add_special_tokens=False).ids
    assert ids[-2:] == [TOKEN_IDS["<|fim_suffix|>"], TOKEN_IDS["<|fim_middle|>"]]
    assert FIM_PREFIX_ID in ids and ids[ids.index(FIM_PREFIX_ID) + 1 : ids.index(FIM_PREFIX_ID) + 3] == [750, 282]


def test_special_flags_are_those_of_the_release(hf_tokenizer):
    # <|endoftext|>/<|im_*|> are special (skipped on decode); the FIM/repo tokens are not.
    ids = hf_tokenizer("<|im_start|>a<|im_end|><|fim_prefix|>b<|file_sep|>c<|endoftext|>")["input_ids"]
    assert hf_tokenizer.decode(ids, skip_special_tokens=True) == "a<|fim_prefix|>b<|file_sep|>c"


def test_eos_pad_and_no_bos(hf_tokenizer):
    assert hf_tokenizer.eos_token_id == ENDOFTEXT_ID
    assert hf_tokenizer.pad_token_id == ENDOFTEXT_ID
    assert hf_tokenizer.bos_token is None
    assert hf_tokenizer("hello")["input_ids"] == [14990]


def test_instruct_config_ends_turns_with_im_end(tmp_path):
    import json
    import shutil

    from model.tokenizer import instruct_tokenizer_config, load_hf_tokenizer, tokenizer_dir

    shutil.copyfile(tokenizer_dir() / "tokenizer.json", tmp_path / "tokenizer.json")
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(instruct_tokenizer_config()))
    assert load_hf_tokenizer(tmp_path).eos_token_id == IM_END_ID


@pytest.mark.parametrize("with_system", [False, True])
def test_chat_template_renders_as_model_prompt_chatml(hf_tokenizer, with_system):
    turns = [
        ChatMessage("user", "Write a sort."),
        ChatMessage("assistant", "sorted(x)"),
        ChatMessage("user", "Faster?"),
    ]
    if with_system:
        turns.insert(0, ChatMessage("system", "Be brief."))
    rendered = hf_tokenizer.apply_chat_template(
        [{"role": m.role, "content": m.content} for m in turns], tokenize=False, add_generation_prompt=True
    )
    assert rendered == chatml(turns)


def test_a_damaged_vocabulary_file_is_named(tmp_path):
    from model.tokenizer import build_tokenizer

    bad = tmp_path / vocab.VOCAB_FILE
    bad.write_bytes(b"GGUF" + b"\0" * 20)
    with pytest.raises(ModelError, match=str(bad)):
        build_tokenizer(bad)


# -- fetching the vocabulary -----------------------------------------------------------------


def make_sdist(path, files, top="llama_cpp_python-9.9.9/"):
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(top + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_extracts_exactly_the_three_files(tmp_path):
    members = {vocab.SDIST_DIR + n: n.encode() for n in vocab.VOCAB_FILES}
    members["vendor/llama.cpp/models/ggml-vocab-llama-bpe.gguf"] = b"other"
    members["elsewhere/" + vocab.VOCAB_FILE] = b"wrong place"
    sdist = make_sdist(tmp_path / "s.tar.gz", members)
    dest = tmp_path / "vocab"
    dest.mkdir()
    vocab.extract_from_sdist(sdist, dest)
    assert sorted(p.name for p in dest.iterdir()) == sorted(vocab.VOCAB_FILES)
    assert (dest / vocab.VOCAB_FILE).read_bytes() == vocab.VOCAB_FILE.encode()


def test_ensure_vocab_uses_a_local_sdist_and_says_how_to_fix_a_bad_one(tmp_path, monkeypatch):
    monkeypatch.setenv("QWENPAIR_CACHE_DIR", str(tmp_path / "cache"))
    sdist = make_sdist(tmp_path / "s.tar.gz", {vocab.SDIST_DIR + vocab.VOCAB_FILE + ".inp": b"x"})
    monkeypatch.setenv(vocab.SDIST_ENV, str(sdist))
    with pytest.raises(ModelError) as err:
        vocab.ensure_vocab(quiet=True)
    message = str(err.value)
    assert vocab.VOCAB_FILE + ".out" in message  # the member it lacks
    assert str(tmp_path / "cache" / "vocab") in message  # where to put the files by hand
    assert not (tmp_path / "cache" / "vocab" / vocab.VOCAB_FILE).exists()

    good = make_sdist(tmp_path / "g.tar.gz", {vocab.SDIST_DIR + n: b"ok" for n in vocab.VOCAB_FILES})
    monkeypatch.setenv(vocab.SDIST_ENV, str(good))
    assert vocab.ensure_vocab(quiet=True) == tmp_path / "cache" / "vocab"


def test_not_an_archive_is_named(tmp_path):
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tar")
    with pytest.raises(ModelError, match="junk.tar.gz"):
        vocab.extract_from_sdist(junk, tmp_path)


def test_run_time_loading_never_downloads(tmp_path, monkeypatch):
    from model.tokenizer import load_fast_tokenizer

    monkeypatch.setenv("QWENPAIR_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv(vocab.SDIST_ENV, str(tmp_path / "would-be-used.tar.gz"))
    with pytest.raises(ModelError, match="qwenpair model vocab"):
        load_fast_tokenizer()
    assert not (tmp_path / "vocab").exists()
