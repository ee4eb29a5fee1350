"""The Qwen2.5-Coder special-token table must match the released tokenizer exactly."""

from model import tokens as T


def test_control_token_ids_are_the_released_ones():
    assert T.TOKEN_IDS[T.ENDOFTEXT] == 151643
    assert T.TOKEN_IDS[T.IM_START] == 151644
    assert T.TOKEN_IDS[T.IM_END] == 151645
    assert T.TOKEN_IDS["<tool_call>"] == 151657
    assert T.TOKEN_IDS["</tool_call>"] == 151658
    assert [T.TOKEN_IDS[t] for t in (T.FIM_PREFIX, T.FIM_MIDDLE, T.FIM_SUFFIX, T.FIM_PAD, T.REPO_NAME, T.FILE_SEP)] == list(
        range(151659, 151665)
    )
    assert len(T.CONTROL_TOKENS) == 22
    assert T.TOKENIZER_SIZE == 151_665
    assert (T.PADDED_VOCAB_SMALL, T.PADDED_VOCAB_LARGE) == (151_936, 152_064)


def test_unused_vision_tokens_fill_151646_to_151656():
    ids = [T.TOKEN_IDS[t] for t in T.CONTROL_TOKENS[3:14]]
    assert ids == list(range(151646, 151657))


def test_eos_per_model_kind_and_stop_set():
    assert T.eos_id(instruct=False) == 151643
    assert T.eos_id(instruct=True) == 151645
    assert T.STOP_TOKEN_IDS == {151643, 151645, 151659, 151660, 151661, 151662, 151663, 151664}
    assert T.PAD_ID == 151643


def test_cut_at_leaked_token_cuts_at_the_first_leak():
    assert T.cut_at_leaked_token("x = 1\n<|file_sep|>other.py\n") == "x = 1\n"
    assert T.cut_at_leaked_token("a<|fim_middle|>b<|endoftext|>") == "a"
    assert T.cut_at_leaked_token("a<fim_suffix>b") == "a"  # CodeQwen1.5 form
    assert T.cut_at_leaked_token("plain <|im_start|> stays? no") == "plain <|im_start|> stays? no"
    assert T.cut_at_leaked_token("") == ""
