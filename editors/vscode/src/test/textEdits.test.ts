// Unit tests of applying LSP text edits to strings (the diff preview's proposed text).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyTextEdits, editsFor, offsetAt } from '../textEdits';

const range = (l1: number, c1: number, l2: number, c2: number) => ({
  start: { line: l1, character: c1 },
  end: { line: l2, character: c2 },
});

test('offsets clamp to the line end and the text end', () => {
  const text = 'ab\ncd\n';
  assert.equal(offsetAt(text, { line: 1, character: 1 }), 4);
  assert.equal(offsetAt(text, { line: 0, character: 99 }), 2);
  assert.equal(offsetAt(text, { line: 9, character: 0 }), text.length);
});

test('several edits apply against the original positions', () => {
  const text = 'def f(x):\n    return x\n';
  const out = applyTextEdits(text, [
    { range: range(0, 4, 0, 5), newText: 'square' },
    { range: range(1, 11, 1, 12), newText: 'x * x' },
    { range: range(2, 0, 2, 0), newText: '# end\n' },
  ]);
  assert.equal(out, 'def square(x):\n    return x * x\n# end\n');
});

test('whole-line replacement keeps the surrounding lines', () => {
  const text = 'a\nb\nc\n';
  assert.equal(applyTextEdits(text, [{ range: range(1, 0, 2, 0), newText: 'B1\nB2\n' }]), 'a\nB1\nB2\nc\n');
});

test('UTF-16 positions: characters after an astral symbol', () => {
  const text = 'x = "😀y"\n';
  // 😀 is two UTF-16 code units: "y" is at character 7.
  assert.equal(applyTextEdits(text, [{ range: range(0, 7, 0, 8), newText: 'z' }]), 'x = "😀z"\n');
});

test('edits for a document come from changes and documentChanges', () => {
  const e1 = { range: range(0, 0, 0, 0), newText: 'a' };
  const e2 = { range: range(1, 0, 1, 0), newText: 'b' };
  assert.deepEqual(editsFor({ changes: { 'file:///x.py': [e1] } }, 'file:///x.py'), [e1]);
  assert.deepEqual(
    editsFor({ documentChanges: [{ textDocument: { uri: 'file:///x.py' }, edits: [e2] }, { textDocument: { uri: 'file:///y.py' }, edits: [e1] }] }, 'file:///x.py'),
    [e2],
  );
  assert.deepEqual(editsFor({}, 'file:///x.py'), []);
});
