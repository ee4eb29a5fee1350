"""Latency model arithmetic, calibration on a real (fake-speed) backend, config parsing."""

import pytest

from assistant.config import EngineConfig
from assistant.latency import LatencyModel
from model.backends.fake import FakeBackend


def test_prompt_budget_follows_measured_speed():
    lm = LatencyModel()
    lm.observe(prompt_tokens=1000, prompt_s=5.0, gen_tokens=20, gen_s=1.0)  # 200 tok/s, 20 tok/s
    assert lm.speed.prompt_tps == pytest.approx(200)
    # 1.5 s target, 10 new tokens (0.5 s), the engine's own 0.1 s -> 0.9 s of prompt evaluation = 180 tokens
    assert lm.prompt_budget(1.5, 10) == 180
    # warm: 3,000 cached tokens cost nothing
    assert lm.prompt_budget(1.5, 10, cached_tokens=3000) == 3180
    # a slower machine shrinks the budget
    for _ in range(10):
        lm.observe(1000, 20.0, 20, 2.0)
    assert lm.prompt_budget(1.5, 10) < 100


def test_the_expected_output_is_the_cap_until_answers_teach_it_and_the_overhead_is_learned():
    lm = LatencyModel()
    assert lm.expected_output(16) == 16 and lm.expected_output(128) == 128  # nothing answered yet: the bound
    for _ in range(20):
        lm.observe(200, 1.0, 6, 0.3, max_new=16, total_s=1.8)  # single lines of 6 tokens, 0.5 s around the model
    assert lm.expected_output(16) == 6
    assert lm.expected_output(128) == 128  # a block's cap is learned on its own
    assert lm.speed.overhead_s == pytest.approx(0.5, abs=0.01)
    lm.observe(200, 1.0, 40, 2.0, max_new=16)  # never more than the cap
    assert lm.expected_output(16) <= 16
    before = lm.speed.overhead_s
    lm.observe(200, 1.0, 6, 0.3, max_new=16, total_s=1.0)  # a total under the model's own time is not a measure
    assert lm.speed.overhead_s == before


def test_tiny_measurements_are_ignored():
    lm = LatencyModel()
    before = lm.speed.prompt_tps
    lm.observe(prompt_tokens=2, prompt_s=0.001, gen_tokens=1, gen_s=0.001)
    assert lm.speed.prompt_tps == before


def test_calibration_measures_the_backend():
    lm = LatencyModel()
    lm.calibrate(FakeBackend("abcdefgh", seconds_per_token=0.01))
    assert lm.speed.samples == 1
    assert 20 < lm.speed.gen_tps < 110  # ~100 tokens/s minus sleep overhead


def test_config_falls_back_per_key_with_a_message():
    cfg, messages = EngineConfig.from_mapping(
        {"context_tokens": "4096", "latency-target-s": 2, "candidates": "many", "bogus": 1, "prefix_lines": -3,
         "speculative": "yes"}
    )
    assert cfg.context_tokens == 4096 and cfg.latency_target_s == 2.0 and cfg.speculative is True
    assert cfg.candidates == EngineConfig().candidates
    assert cfg.prefix_lines == EngineConfig().prefix_lines
    text = " | ".join(messages)
    assert "'candidates'" in text and "'bogus'" in text and "'prefix_lines'" in text
    assert len(messages) == 3
