// Unit tests of the settings -> initializationOptions mapping (no VS Code needed).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULTS, initializationOptions, isEnabled, readSettings, RESTART_KEYS } from '../settings';

test('defaults send nothing: the server keeps its own', () => {
  assert.deepEqual(initializationOptions(DEFAULTS), {});
});

test('settings map to the server option keys', () => {
  const values: Record<string, unknown> = {
    model: ' /models/qwen2.5-coder-1.5b-q8_0.gguf ',
    chatModel: 'qwen2.5-coder-1.5b-instruct',
    adapter: '/a/lora.gguf',
    contextTokens: 1024,
    latencyTarget: 0.8,
    enable: { '*': false, python: true },
  };
  assert.deepEqual(initializationOptions(readSettings((k) => values[k])), {
    model: '/models/qwen2.5-coder-1.5b-q8_0.gguf',
    chat_model: 'qwen2.5-coder-1.5b-instruct',
    adapter: '/a/lora.gguf',
    engine: { context_tokens: 1024, latency_target_s: 0.8 },
  });
});

test('ill-typed settings fall back to the defaults', () => {
  const values: Record<string, unknown> = {
    serverCommand: [],
    model: 42,
    contextTokens: -5,
    latencyTarget: Number.NaN,
    enable: ['python'],
  };
  assert.deepEqual(readSettings((k) => values[k]), DEFAULTS);
});

test('a custom server command is kept whole', () => {
  const s = readSettings((k) => (k === 'serverCommand' ? ['/venv/bin/python', '-m', 'qwenpair', 'serve'] : undefined));
  assert.deepEqual(s.serverCommand, ['/venv/bin/python', '-m', 'qwenpair', 'serve']);
});

test('per-language enable: named languages win over "*"', () => {
  const enable = { '*': true, markdown: false };
  assert.equal(isEnabled(enable, 'python'), true);
  assert.equal(isEnabled(enable, 'markdown'), false);
  assert.equal(isEnabled({ '*': false, go: true }, 'go'), true);
  assert.equal(isEnabled({ '*': false, go: true }, 'rust'), false);
  assert.equal(isEnabled({}, 'rust'), true);
});

test('next-edit settings: read live, off and pause kept, bad values fall back', () => {
  const s = readSettings((k) => ({ 'nextEdit.enabled': false, 'nextEdit.pauseMs': 0 })[k]);
  assert.deepEqual(s.nextEdit, { enabled: false, pauseMs: 0 });
  const bad = readSettings((k) => ({ 'nextEdit.enabled': 'yes', 'nextEdit.pauseMs': -1 })[k]);
  assert.deepEqual(bad.nextEdit, DEFAULTS.nextEdit);
  assert.deepEqual(initializationOptions(s), {}); // client side: nothing for the server
  assert.ok(!RESTART_KEYS.some((k) => k.startsWith('nextEdit')));
  assert.ok(RESTART_KEYS.includes('model'));
});
