// Unit tests of next edits and suggestion outcomes on plain values: ids from item commands,
// the outcome notification's params, which replacements VS Code's ghost text can draw, and
// how the extension draws the others.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  acceptCommand,
  codePoints,
  editView,
  ghostCanShow,
  isSuggestionCommand,
  onRangeLines,
  outcomeParams,
  positionAfter,
  suggestionRef,
} from '../nextEdit';
import { applyTextEdits } from '../textEdits';

const range = (l1: number, c1: number, l2: number, c2: number) => ({
  start: { line: l1, character: c1 },
  end: { line: l2, character: c2 },
});

test('ids come from the commands of suggestions, and from nothing else', () => {
  const fim = { command: 'qwenpair.accepted', arguments: [{ id: 's1', kind: 'fim_line' }] };
  assert.deepEqual(suggestionRef(fim), { id: 's1', kind: 'fim_line' });
  assert.deepEqual(suggestionRef({ command: 'qwenpair.nextEdit', arguments: [{ id: 'n2' }] }), { id: 'n2', kind: 'next_edit' });
  assert.equal(suggestionRef({ command: 'qwenpair.nextEdit', arguments: [] }), undefined); // no id yet
  assert.equal(suggestionRef({ command: 'qwenpair.accepted', arguments: [{ id: 3 }] }), undefined);
  assert.equal(suggestionRef({ command: 'qwenpair.chat', arguments: [{ id: 's1' }] }), undefined);
  assert.equal(suggestionRef(undefined), undefined);
  assert.equal(isSuggestionCommand({ command: 'qwenpair.nextEdit' }), true);
  assert.equal(isSuggestionCommand({ command: 'qwenpair.status' }), false);
});

test('outcome params: acceptedChars only for a partial accept', () => {
  const ref = { id: 's1', kind: 'fim_block' };
  assert.deepEqual(outcomeParams(ref, 'partial', 'file:///a.py', 7), { id: 's1', outcome: 'partial', acceptedChars: 7, uri: 'file:///a.py' });
  assert.deepEqual(outcomeParams(ref, 'dismissed', 'file:///a.py', 7), { id: 's1', outcome: 'dismissed', uri: 'file:///a.py' });
  assert.deepEqual(outcomeParams(ref, 'accepted'), { id: 's1', outcome: 'accepted' });
});

test('accepted characters are counted as code points, as the server counts them', () => {
  assert.equal(codePoints('len'), 3);
  assert.equal(codePoints('x = "😀"'), 7); // 8 UTF-16 units
  assert.equal(codePoints(''), 0);
});

test('accepting an answer runs its item command, or qwenpair.nextEdit with its id', () => {
  const item = { insertText: 'x', range: range(0, 0, 0, 1), command: { command: 'qwenpair.nextEdit', arguments: [{ id: 'i', kind: 'next_edit' }] } };
  assert.equal(acceptCommand({ kind: 'inline', id: 'a', item }), item.command);
  assert.deepEqual(acceptCommand({ kind: 'jump', id: 'a', item: null }), {
    command: 'qwenpair.nextEdit', title: 'next edit', arguments: [{ id: 'a', kind: 'next_edit' }],
  });
  assert.deepEqual(acceptCommand({ kind: 'jump' }).arguments, []);
});

test('ghost text draws insertions around the cursor, never deletions', () => {
  // typing along: the rest of the line is inserted
  assert.equal(ghostCanShow('    return ', '    return total', 11), true);
  // the closer after the cursor stays in the new text
  assert.equal(ghostCanShow('print()', 'print(len(sys.argv))', 6), true);
  // a rename deletes characters: not drawable, wherever the cursor is
  assert.equal(ghostCanShow('    return width * 3', '    return w * 3', 0), false);
  assert.equal(ghostCanShow('    return width * 3', '    return w * 3', 20), false);
  // text before the cursor that the new text does not begin with
  assert.equal(ghostCanShow('foo(a)', 'foo(b, a)', 5), false);
  assert.equal(ghostCanShow('foo(a)', 'foo(b, a)', 4), true);
  // an insertion after the cursor (a jump lands at the line's start): drawn by the extension
  assert.equal(ghostCanShow('    return x', '    return x * 2', 0), false);
  assert.equal(ghostCanShow('    return x', '    return x * 2', 12), true);
});

test('a rename is drawn as the deleted part struck through and the new part after it', () => {
  const edit = { range: range(6, 0, 6, 20), newText: '    return w * 3' };
  const view = editView(edit, '    return width * 3');
  assert.deepEqual(view.deleted, range(6, 12, 6, 16)); // "idth" (the common "w" stays)
  assert.equal(view.inserted, '');
  assert.equal(view.moreLines, 0);
  assert.equal(view.diff, '```diff\n-     return width * 3\n+     return w * 3\n```');
});

test('an inserted line: nothing struck, the first new line shown and the rest counted', () => {
  const old = 'a = 1\n';
  const edit = { range: range(2, 0, 3, 0), newText: 'a = 1\nb = 2\nc = 3\n' };
  const view = editView(edit, old);
  assert.deepEqual(view.deleted, range(3, 0, 3, 0));
  assert.equal(view.inserted, 'b = 2');
  assert.equal(view.moreLines, 1); // "c = 3" (the line break at the end is no line)
  assert.equal(applyTextEdits('x\ny\na = 1\n', [edit]), 'x\ny\na = 1\nb = 2\nc = 3\n');
});

test('lines inserted after the end of a line show their first line', () => {
  const view = editView({ range: range(0, 5, 0, 5), newText: '\nb = 2' }, '');
  assert.deepEqual(view.deleted, range(0, 5, 0, 5));
  assert.equal(view.inserted, 'b = 2');
  assert.equal(view.moreLines, 0);
});

test('a multi-line deletion maps offsets across lines', () => {
  const view = editView({ range: range(1, 4, 3, 2), newText: 'ZZ' }, 'ab\ncd\nZZ');
  assert.deepEqual(view.deleted, range(1, 4, 3, 0));
  assert.equal(view.inserted, '');
  assert.deepEqual(positionAfter({ line: 1, character: 4 }, 'ab\ncd\nZZ', 7), { line: 3, character: 1 });
});

test('the cursor is at a target on any line of its range', () => {
  assert.equal(onRangeLines(range(6, 0, 7, 3), { line: 7, character: 9 }), true);
  assert.equal(onRangeLines(range(6, 0, 7, 3), { line: 2, character: 0 }), false);
});
