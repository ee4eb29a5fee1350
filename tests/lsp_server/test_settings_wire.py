"""Settings through a real ``qwenpair serve`` (the one converter, ``assistant.settings_convert``):
bad initializationOptions and a bad didChangeConfiguration each yield one window/showMessage
naming every invalid key with what it expects, the valid keys take effect, and the server
keeps answering."""

from __future__ import annotations

from conftest import fast_options


def _warnings(wire) -> list[str]:
    return [m["message"] for m in wire.notifications("window/showMessage") if "qwenpair settings" in m["message"]]


def test_bad_settings_are_named_and_the_rest_applies(start, workspace, tiny_model):
    wire = start()
    options = fast_options(tiny_model.gguf, threads="many", watch="false", log_level="LOUD", brand_new=1,
                           engine={"max_tokens_single": 2.7, "candidates": "1", "speculative": "false"})
    wire.initialize(workspace, options)
    wire.wait_for(lambda: _warnings(wire), what="a settings warning")
    text = _warnings(wire)[0]
    for part in ("setting 'threads' = 'many' is invalid (expected an integer); using 0",
                 "setting 'log_level' = 'LOUD' is invalid (expected one of debug, info, warning, error); using 'info'",
                 "unknown setting 'brand_new' ignored",
                 "engine: setting 'max_tokens_single' = 2.7 is invalid (expected an integer); using 48"):
        assert part in text, text
    assert "watch" not in text and "candidates" not in text and "speculative" not in text  # "false", "1" are valid
    status = wire.wait_ready()
    assert status["model_state"] == "ready", status

    wire.notify("workspace/didChangeConfiguration", {"settings": {"qwenpair": {"chat": {"temperature": -1}}}})
    wire.wait_for(lambda: len(_warnings(wire)) >= 2, what="a second settings warning")
    assert "chat: setting 'temperature' = -1 is invalid (must not be negative); using 0.0" in _warnings(wire)[1]
    assert wire.status()["model_state"] == "ready"
    assert wire.shutdown_and_exit() == 0
