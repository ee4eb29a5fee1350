// Unit tests of splitting chat answers into prose and code blocks (final and streaming).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { splitCodeBlocks } from '../markdown';

test('prose and fenced code alternate', () => {
  const answer = 'Use a list comprehension:\n```python\nsquares = [x * x for x in xs]\n```\nThat is all.';
  assert.deepEqual(splitCodeBlocks(answer), [
    { kind: 'text', text: 'Use a list comprehension:' },
    { kind: 'code', text: 'squares = [x * x for x in xs]', lang: 'python' },
    { kind: 'text', text: 'That is all.' },
  ]);
});

test('a fence still streaming is an open code block', () => {
  assert.deepEqual(splitCodeBlocks('Here:\n```ts\nconst a = 1;\nconst'), [
    { kind: 'text', text: 'Here:' },
    { kind: 'code', text: 'const a = 1;\nconst', lang: 'ts' },
  ]);
});

test('a shorter fence inside a longer one does not close it', () => {
  const answer = '````md\n```js\nx\n```\n````';
  assert.deepEqual(splitCodeBlocks(answer), [{ kind: 'code', text: '```js\nx\n```', lang: 'md' }]);
});

test('no code, and empty text', () => {
  assert.deepEqual(splitCodeBlocks('just words'), [{ kind: 'text', text: 'just words' }]);
  assert.deepEqual(splitCodeBlocks(''), []);
});
