// Unit tests of the status-bar text (model, indexing progress, last latency).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { modelLabel, statusText, suggestionsLine } from '../statusText';

test('model label is the file name without .gguf, or the registry name', () => {
  assert.equal(modelLabel('/home/u/.cache/qwenpair/models/qwen2.5-coder-1.5b-q8_0.gguf'), 'qwen2.5-coder-1.5b-q8_0');
  assert.equal(modelLabel('qwen2.5-coder-1.5b'), 'qwen2.5-coder-1.5b');
  assert.equal(modelLabel(null), 'no model');
});

test('ready index: model and latency', () => {
  const s = statusText({ model: '/m/tiny.gguf', index: { files: 3, state: 'ready' }, last_latency_ms: 41.6 });
  assert.equal(s.text, '$(sparkle) tiny  42 ms');
  assert.match(s.tooltip, /index: 3 files \(ready\)/);
  assert.match(s.tooltip, /adapter: none/);
});

test('indexing shows its progress, no latency yet', () => {
  const s = statusText({ model: 'm', index: { files: 10, state: 'indexing' }, last_latency_ms: null });
  assert.equal(s.text, '$(sparkle) m  $(sync~spin) indexing 10 files');
  assert.match(s.tooltip, /last latency: -/);
});

test('no workspace folder is not progress; a failed index says so', () => {
  assert.equal(statusText({ model: 'm', index: { files: 0, state: 'none' } }).text, '$(sparkle) m');
  assert.equal(statusText({ model: 'm', index: { files: 0, state: 'failed' } }).text, '$(sparkle) m  $(warning) index failed');
});

test('model loading and failure show in the bar, the problem in the tooltip', () => {
  assert.equal(statusText({ model: 'm', model_state: 'loading' }).text, '$(sparkle) m  $(sync~spin) loading model');
  const failed = statusText({ model: 'm', model_state: 'failed', model_problem: 'no such file' });
  assert.equal(failed.text, '$(sparkle) m  $(error) model failed');
  assert.match(failed.tooltip, /model: m \(failed\): no such file/);
});

test("today's suggestion figures in the tooltip, or why there are none", () => {
  const s = statusText({
    model: 'm',
    suggestions_today: { enabled: true, shown: 12, accepted: 4, partial: 1, acceptance_rate: 0.4167, retained_rate_30s: 0.9 },
  });
  assert.match(s.tooltip, /suggestions today: 12 shown, 4 accepted, 1 partly \(acceptance 42%, retained after 30 s 90%\)/);
  assert.equal(suggestionsLine({ enabled: true, shown: 0, accepted: 0, partial: 0, acceptance_rate: null }),
    'suggestions today: 0 shown, 0 accepted, 0 partly (acceptance -, retained after 30 s -)');
  assert.equal(suggestionsLine({ enabled: false }), 'suggestions today: not recorded (stats off)');
  assert.equal(suggestionsLine(undefined), 'suggestions today: -'); // an older server
});
