"""LRU and typed-ahead behaviour of the completion cache."""

from assistant.cache import CachedCompletion, CompletionCache


def test_exact_hit_and_miss():
    c = CompletionCache()
    c.put("a.py", "x = ", "\n", CachedCompletion("compute()"))
    assert c.get("a.py", "x = ", "\n").completion.text == "compute()"
    assert c.get("a.py", "y = ", "\n") is None
    assert c.get("b.py", "x = ", "\n") is None  # other file
    assert (c.hits, c.misses) == (1, 2)


def test_typed_ahead_serves_the_rest_without_a_model_call():
    c = CompletionCache()
    c.put("a.py", "def f():\n    return ", "\n", CachedCompletion("total + 1", ("total - 1", "other")))
    hit = c.get("a.py", "def f():\n    return tot", "\n")
    assert hit is not None and hit.typed == "tot"
    assert hit.completion.text == "al + 1"
    assert hit.completion.extra == ("al - 1",)
    # and the next keystroke is an exact hit on what was just served
    assert c.get("a.py", "def f():\n    return tot", "\n").typed == ""
    assert c.typed_hits == 1


def test_typing_something_else_is_a_miss():
    c = CompletionCache()
    c.put("a.py", "x = ", "\n", CachedCompletion("compute()"))
    assert c.get("a.py", "x = cal", "\n") is None


def test_typing_the_whole_suggestion_is_a_miss():
    c = CompletionCache()
    c.put("a.py", "x = ", "\n", CachedCompletion("1"))
    assert c.get("a.py", "x = 1", "\n") is None


def test_typed_ahead_does_not_cross_lines():
    c = CompletionCache()
    c.put("a.py", "a", "", CachedCompletion("b\nc"))
    assert c.get("a.py", "ab\n", "") is None


def test_lru_evicts_the_oldest():
    c = CompletionCache(capacity=2)
    for i in range(3):
        c.put("a.py", f"x{i}", "", CachedCompletion(str(i)))
    assert c.get("a.py", "x0", "") is None
    assert c.get("a.py", "x2", "").completion.text == "2"
    assert len(c) == 2
