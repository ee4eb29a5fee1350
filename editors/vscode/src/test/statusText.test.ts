// Unit tests of the status-bar text (model, indexing progress, last latency).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { modelLabel, statusText } from '../statusText';

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
