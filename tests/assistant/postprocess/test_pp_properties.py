"""Properties of the whole chain on arbitrary input (hypothesis).

- it never raises, whatever the text, context and language;
- no stop-token text survives it;
- it invents nothing: the result's non-space characters are a subsequence of the raw
  output's, and without indentation conversion the result is a subsequence of the raw text;
- a single-line request gets one line; a non-empty result is never whitespace-only;
- it is idempotent, and the range it ends with covers only closers after the cursor (after the rest of
  the string the cursor is in, when it covers that) and
  comes out the same when recomputed from the shown text (as a cache hit does).
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.postprocess import CompletionContext, cover_closers, decide_line_mode, run_chain, shape_completion
from assistant.postprocess.languages import LANGUAGES
from assistant.postprocess.lexer import string_at_end, string_end
from model.tokens import LEGACY_FIM_TOKENS, STOP_TOKEN_TEXTS

LEAKS = STOP_TOKEN_TEXTS + LEGACY_FIM_TOKENS
# Code-shaped characters make the filters take their interesting branches far more often
# than uniform unicode would.
CODE = st.text(alphabet="ab x_(){}[]\"'`:;,.=+#/*\\\t \n", max_size=60)
PIECE = st.one_of(CODE, st.sampled_from(LEAKS), st.text(max_size=8))
RAW = st.lists(PIECE, max_size=6).map("".join)
LINE = st.text(alphabet="ab x_(){}[]\"'`:;,=#/*\t ", max_size=20) | st.text(max_size=10).map(
    lambda s: s.replace("\n", "").replace("\r", "")
)
LANGUAGE = st.sampled_from([*LANGUAGES, "text", "no-such-language"])

CONTEXT = st.builds(
    CompletionContext,
    line_prefix=LINE,
    line_suffix=LINE,
    next_lines=st.lists(LINE, max_size=4).map(tuple),
    prev_lines=st.lists(LINE, max_size=4).map(tuple),
    language=LANGUAGE,
    indent_unit=st.sampled_from(["    ", "  ", "\t"]),
    multiline=st.booleans(),
)

PROPERTY = settings(max_examples=300, deadline=None)


def _subsequence(small: str, big: str) -> bool:
    it = iter(big)
    return all(ch in it for ch in small)


def _dense(text: str) -> str:
    return "".join(text.split())


@PROPERTY
@given(RAW, CONTEXT)
def test_never_raises_and_never_keeps_a_stop_token(raw, ctx):
    out = run_chain(raw, ctx)
    assert isinstance(out, str)
    assert not any(token in out for token in LEAKS)


@PROPERTY
@given(st.text(max_size=200), st.text(max_size=200), st.text(max_size=80), LANGUAGE)
def test_never_raises_on_arbitrary_unicode_documents(prefix, suffix, raw, language):
    ctx = CompletionContext.from_prefix_suffix(prefix, suffix, language=language)
    run_chain(raw, replace(ctx, multiline=decide_line_mode(ctx).multiline))  # as the engine decides


@PROPERTY
@given(RAW, CONTEXT)
def test_invents_no_characters(raw, ctx):
    out = run_chain(raw, ctx)
    assert _subsequence(_dense(out), _dense(raw))
    if ctx.indent_unit != "\t" and "\t" not in raw:
        assert _subsequence(out, raw)  # only indentation normalisation may add characters


@PROPERTY
@given(RAW, CONTEXT)
def test_single_line_requests_get_one_line_and_results_are_never_blank(raw, ctx):
    out = run_chain(raw, ctx)
    if not ctx.multiline:
        assert "\n" not in out
    assert out == "" or out.strip()


@PROPERTY
@given(RAW, CONTEXT)
def test_filtering_twice_changes_nothing(raw, ctx):
    # The cache re-serves filtered text; running it through the chain again must be harmless.
    once = run_chain(raw, ctx)
    assert run_chain(once, ctx) == once


@PROPERTY
@given(RAW, CONTEXT)
def test_the_range_covers_only_closers_and_is_stable_for_the_cache(raw, ctx):
    shown = shape_completion(raw, ctx)
    replaced = ctx.line_suffix[: shown.replace]
    quote = string_at_end(ctx.line_prefix, ctx.spec)
    if quote is not None and string_end(replaced, quote, ctx.spec) > 0:  # the string's rest, then closers
        replaced = replaced[string_end(replaced, quote, ctx.spec) :]
    assert len(ctx.line_suffix) >= shown.replace and all(c in ")]}\"'`;," for c in replaced)
    assert shown.text or not shown.replace
    # a cache hit recomputes the range from the shown text alone: it must come out the same
    assert cover_closers(shown.text, ctx) == shown
