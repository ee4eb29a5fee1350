"""The golden-file helper (tests/golden.py): when it writes, when it compares, known-bad cases.

Three of the four helpers it replaced treated ``QWENPAIR_UPDATE_GOLDEN=0`` as "update", and
all of them passed after rewriting a file."""

from __future__ import annotations

import pytest

from tests.golden import ENV, check_text


@pytest.fixture
def golden(tmp_path):
    path = tmp_path / "case.txt"
    path.write_text("line one\nline two\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("value", [None, "", "0"])
def test_anything_but_1_compares_and_never_writes(golden, monkeypatch, value):
    if value is None:
        monkeypatch.delenv(ENV, raising=False)
    else:
        monkeypatch.setenv(ENV, value)
    with pytest.raises(pytest.fail.Exception, match=r"(?s)differs from the golden file.*-line two\n\+line 2"):
        check_text(golden, "line one\nline 2\n")
    assert golden.read_text() == "line one\nline two\n"
    check_text(golden, "line one\nline two\n")  # equal: passes


def test_1_writes_then_skips_naming_the_file(golden, monkeypatch):
    monkeypatch.setenv(ENV, "1")
    with pytest.raises(pytest.skip.Exception, match="rewrote golden file .*case.txt"):
        check_text(golden, "new\n")
    assert golden.read_text() == "new\n"
    with pytest.raises(pytest.skip.Exception):  # even when nothing changed: never a silent pass
        check_text(golden, "new\n")


@pytest.mark.parametrize("value", ["true", "yes", "2"])
def test_another_value_is_an_error(golden, monkeypatch, value):
    monkeypatch.setenv(ENV, value)
    with pytest.raises(pytest.fail.Exception, match="set it to 1"):
        check_text(golden, "other\n")
    assert golden.read_text() == "line one\nline two\n"


def test_a_missing_golden_file_says_how_to_write_it(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    with pytest.raises(pytest.fail.Exception, match=f"no golden file .*{ENV}=1"):
        check_text(tmp_path / "absent.txt", "x\n")


def known_bad(tmp_path, monkeypatch, first_line: str):
    monkeypatch.delenv(ENV, raising=False)
    path = tmp_path / "bad.txt"
    path.write_text(f"{first_line}\nright\n", encoding="utf-8")
    return path


def test_known_bad_case_xfails_until_it_matches(tmp_path, monkeypatch):
    path = known_bad(tmp_path, monkeypatch, "expected_failure: the filter keeps the duplicate brace")
    with pytest.raises(pytest.xfail.Exception, match="duplicate brace"):
        check_text(path, "wrong\n")
    with pytest.raises(pytest.fail.Exception, match="now matches .* remove that line"):
        check_text(path, "right\n")
    monkeypatch.setenv(ENV, "1")
    with pytest.raises(pytest.skip.Exception, match="known-bad"):
        check_text(path, "wrong\n")
    assert path.read_text().startswith("expected_failure:")  # a rewrite leaves it alone


def test_known_bad_needs_a_reason(tmp_path, monkeypatch):
    path = known_bad(tmp_path, monkeypatch, "expected_failure:")
    with pytest.raises(pytest.fail.Exception, match="must say why"):
        check_text(path, "wrong\n")
