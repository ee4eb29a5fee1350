"""Filter: tidy outer whitespace; drop whitespace-only results."""

from pp_cursor import at

from assistant.postprocess.blank import drop_blank


def test_whitespace_only_is_dropped():
    assert drop_blank("   \n\t\n  ", at("def f():‸")) == ""
    assert drop_blank("", at("x = ‸")) == ""


def test_trailing_whitespace_goes_at_the_end_of_the_line():
    assert drop_blank("\n    return 1\n\n  ", at("def f():‸")) == "\n    return 1"


def test_trailing_space_stays_mid_line():
    assert drop_blank("a + ", at("x = ‸b")) == "a + "


def test_leading_space_after_a_typed_space_is_dropped():
    assert drop_blank(" x", at("return ‸")) == "x"
    assert drop_blank(" x", at("return‸")) == " x"
    assert drop_blank("  x = 1", at("    ‸")) == "  x = 1"  # only indentation typed: not a doubled space
