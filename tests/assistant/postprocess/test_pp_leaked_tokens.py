"""Filter: cut at leaked special-token text."""

from pp_cursor import at

from assistant.postprocess.leaked_tokens import cut_leaked_tokens


def test_cuts_at_the_first_leaked_token():
    ctx = at("def f():‸")
    assert cut_leaked_tokens("\n    return 1\n<|file_sep|>b.py\nx = 1", ctx) == "\n    return 1\n"
    assert cut_leaked_tokens("a<|endoftext|>b<|fim_middle|>", ctx) == "a"
    assert cut_leaked_tokens("a<fim_suffix>b", ctx) == "a"  # CodeQwen1.5's pipe-less form


def test_leaves_clean_text_alone():
    assert cut_leaked_tokens("x = '<|notatoken|>'", at("‸")) == "x = '<|notatoken|>'"
