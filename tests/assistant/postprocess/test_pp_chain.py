"""The chain: order, explanation steps, short-circuit, the range it ends with."""

from pp_cursor import at

from assistant.postprocess import FILTERS, Shown, format_steps, run_chain, shape_completion


def test_filter_order():
    assert [name for name, _ in FILTERS] == [
        "leaked_tokens",
        "single_line",
        "indentation",
        "block_scope",
        "suffix_repetition",
        "blank",
    ]


def test_steps_record_every_filter_and_what_changed():
    ctx = at("def f():‸\n\ndef g():\n    pass\n")
    steps = []
    out = run_chain("\n    return 1\n\ndef g():\n    pass\n<|endoftext|>", ctx, steps=steps)
    assert out == "\n    return 1"
    assert [s.name for s in steps] == [name for name, _ in FILTERS] + ["replace_range"]
    assert [s.name for s in steps if s.changed] == ["leaked_tokens", "block_scope", "blank"]
    assert steps[0].before.endswith("<|endoftext|>")
    assert steps[-1].after == out
    assert format_steps(steps).splitlines()[0].startswith("leaked_tokens: ")


def test_the_range_is_a_step_of_its_own():
    steps = []
    assert shape_completion("a, b)", at("foo(‸)"), steps=steps) == Shown("a, b)", 1)
    assert format_steps(steps) == "replace_range: 'a, b)' -> 'a, b)' (replaces ')' after the cursor)"


def test_empty_output_short_circuits():
    assert run_chain("<|file_sep|>x.py", at("x = ‸")) == ""
    steps = []
    assert run_chain("", at("x = ‸"), steps=steps) == ""
    assert len(steps) == len(FILTERS) + 1
    assert format_steps(steps) == "no filter changed the completion"
