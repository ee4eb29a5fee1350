"""Budget fitting keeps the text nearest the cursor and never exceeds the budget."""

from hypothesis import given, settings
from hypothesis import strategies as st

from model.fit import fit_prefix_suffix


def words(s: str) -> int:
    """A stand-in token count: whitespace-separated pieces plus newlines."""
    return len(s.split()) + s.count("\n")


def test_fits_unchanged_when_small():
    assert fit_prefix_suffix("a b\n", "c\n", 100, words) == ("a b\n", "c\n")


def test_far_prefix_goes_first():
    prefix = "".join(f"line{i} x\n" for i in range(50))
    suffix = "tail\n"
    p, s = fit_prefix_suffix(prefix, suffix, 30, words)
    assert s == suffix
    assert prefix.endswith(p) and p.startswith("line") and "line49" in p and "line0 " not in p
    assert words(p) + words(s) <= 30


def test_suffix_keeps_its_share_when_both_are_long():
    prefix = "p\n" * 100
    suffix = "s\n" * 100
    p, s = fit_prefix_suffix(prefix, suffix, 40, words, suffix_share=0.25)
    assert words(s) == 10 and words(p) == 30
    assert suffix.startswith(s) and prefix.endswith(p)


def test_one_enormous_line_is_cut_by_characters():
    minified = "x " * 1000
    p, s = fit_prefix_suffix(minified, "", 10, words)
    assert minified.endswith(p) and 0 < words(p) <= 10


@settings(max_examples=200)
@given(st.text(alphabet="ab \n", max_size=300), st.text(alphabet="cd \n", max_size=300), st.integers(0, 60))
def test_never_over_budget_and_always_adjacent_to_the_cursor(prefix, suffix, budget):
    p, s = fit_prefix_suffix(prefix, suffix, budget, words)
    assert words(p) + words(s) <= max(budget, 0)
    assert prefix.endswith(p) and suffix.startswith(s)
