/**
 * Next edits and suggestion outcomes, on plain values (no VS Code API, unit-tested with node).
 *
 * The server marks each suggestion with a command (docs/lsp.md, "Next edits" and "Suggestion
 * outcomes"): `qwenpair.accepted` for a completion, `qwenpair.nextEdit` for a next edit, both
 * with `[{"id", "kind"}]`. Outcomes the editor sees (a partial accept, a dismiss) go back as
 * `qwenpair/suggestionOutcome` with that id.
 *
 * VS Code's ghost text draws a replacement only when it inserts: the replaced text before the
 * cursor must begin the new text and the rest must remain in it, in order (VS Code's
 * `InlineCompletionWithUpdatedRange.isVisible`). A next edit that deletes (a rename) is not
 * drawn at all, so the extension draws those itself: the deleted part struck through and the
 * new text after it (`editView`).
 */
import type { Position, Range, TextEdit } from './textEdits';

export const ACCEPTED_COMMAND = 'qwenpair.accepted';
export const NEXT_EDIT_COMMAND = 'qwenpair.nextEdit';
export const OUTCOME_NOTIFICATION = 'qwenpair/suggestionOutcome';
export const NEXT_EDIT_REQUEST = 'qwenpair/nextEdit';
export const NEXT_EDIT_READY = 'qwenpair/nextEditReady';

export interface Command {
  command: string;
  title?: string;
  arguments?: unknown[];
}

/** What an outcome refers to: the suggestion's id and kind (fim_line, fim_block, next_edit). */
export interface SuggestionRef {
  id: string;
  kind: string;
}

export type Outcome = 'accepted' | 'partial' | 'dismissed';

export interface OutcomeParams {
  id: string;
  outcome: Outcome;
  acceptedChars?: number;
  uri?: string;
}

/** `qwenpair/nextEdit`'s answer (docs/lsp.md, "Next edits"). */
export interface NextEditAnswer {
  kind: 'inline' | 'jump' | 'none';
  id?: string;
  reason?: string;
  edits?: TextEdit[];
  target?: TextEdit;
  jump?: Position | null;
  item?: { insertText: string; range: Range; command?: Command } | null;
}

/** Whether {command} is one of the server's suggestion commands. */
export function isSuggestionCommand(command: Command | undefined): boolean {
  return command?.command === ACCEPTED_COMMAND || command?.command === NEXT_EDIT_COMMAND;
}

/** The suggestion {command} names, if it carries an id. */
export function suggestionRef(command: Command | undefined): SuggestionRef | undefined {
  if (!isSuggestionCommand(command)) {
    return undefined;
  }
  const arg = command?.arguments?.[0] as { id?: unknown; kind?: unknown } | undefined;
  if (!arg || typeof arg.id !== 'string' || arg.id === '') {
    return undefined;
  }
  return { id: arg.id, kind: typeof arg.kind === 'string' ? arg.kind : command?.command === NEXT_EDIT_COMMAND ? 'next_edit' : '' };
}

/** The command that accepting {answer}'s target runs on the server. */
export function acceptCommand(answer: NextEditAnswer): Command {
  if (answer.item?.command) {
    return answer.item.command;
  }
  return {
    command: NEXT_EDIT_COMMAND,
    title: 'next edit',
    arguments: answer.id ? [{ id: answer.id, kind: 'next_edit' }] : [],
  };
}

/** The notification's params; {acceptedChars} only for a partial accept. */
export function outcomeParams(ref: SuggestionRef, outcome: Outcome, uri?: string, acceptedChars?: number): OutcomeParams {
  const params: OutcomeParams = { id: ref.id, outcome };
  if (outcome === 'partial') {
    params.acceptedChars = Math.max(0, acceptedChars ?? 0);
  }
  if (uri) {
    params.uri = uri;
  }
  return params;
}

/** How many characters {text} has as the server counts them (code points, not UTF-16 units). */
export function codePoints(text: string): number {
  return Array.from(text).length;
}

/** Whether {sub}'s characters all appear in {text}, in order (VS Code's `matchesSubString`). */
function isSubsequence(sub: string, text: string): boolean {
  let j = 0;
  for (let i = 0; i < text.length && j < sub.length; i++) {
    if (text[i] === sub[j]) {
      j++;
    }
  }
  return j === sub.length;
}

function commonPrefix(a: string, b: string): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) {
    n++;
  }
  return n;
}

function commonSuffix(a: string, b: string, limit: number): number {
  let n = 0;
  while (n < a.length - limit && n < b.length - limit && a[a.length - 1 - n] === b[b.length - 1 - n]) {
    n++;
  }
  return n;
}

/**
 * Whether VS Code draws {newText} replacing {oldText} as ghost text, the cursor {cursor}
 * characters into {oldText}: the change must start at or before the cursor, and after their
 * common prefix the old text before the cursor must begin the new text and the old text after
 * it must stay in the new, in order.
 */
export function ghostCanShow(oldText: string, newText: string, cursor: number): boolean {
  const p = commonPrefix(oldText, newText);
  if (cursor < p) {
    return false; // the change starts after the cursor: ghost text is drawn from the cursor on
  }
  const oldRest = oldText.slice(p);
  const newRest = newText.slice(p);
  const at = Math.max(0, cursor - p);
  return newRest.slice(0, at).startsWith(oldRest.slice(0, at)) && isSubsequence(oldRest.slice(at), newRest.slice(at));
}

/** The position {offset} characters after {start} in {text}, which begins at {start}. */
export function positionAfter(start: Position, text: string, offset: number): Position {
  let { line, character } = start;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text[i] === '\n') {
      line++;
      character = 0;
    } else {
      character++;
    }
  }
  return { line, character };
}

/** How an edit is drawn: the deleted range struck through, the inserted text after it. */
export interface EditView {
  /** what the edit deletes (empty when it only inserts) */
  deleted: Range;
  /** the inserted text's first line, and how many more lines it has */
  inserted: string;
  moreLines: number;
  /** a hover: the old and new lines as a diff */
  diff: string;
}

/** The view of {edit}, which replaces {oldText} (the document's text in its range). */
export function editView(edit: TextEdit, oldText: string): EditView {
  const p = commonPrefix(oldText, edit.newText);
  const s = commonSuffix(oldText, edit.newText, p);
  const deletedText = oldText.slice(p, oldText.length - s);
  const insertedText = edit.newText.slice(p, edit.newText.length - s);
  const from = positionAfter(edit.range.start, oldText, p);
  const to = positionAfter(from, deletedText, deletedText.length);
  // a line break at the end (or, inserting lines after a line's end, at the start) is no line to show
  const lines = insertedText.replace(/\n$/, '').split('\n');
  if (lines.length > 1 && lines[0] === '') {
    lines.shift();
  }
  const [first, ...rest] = lines;
  const quote = (text: string, sign: string) =>
    text === '' ? [] : text.replace(/\n$/, '').split('\n').map((l) => `${sign} ${l}`);
  const diff = ['```diff', ...quote(oldText, '-'), ...quote(edit.newText, '+'), '```'].join('\n');
  return { deleted: { start: from, end: to }, inserted: first, moreLines: rest.length, diff };
}

/** Whether {position} is on one of the lines {range} covers. */
export function onRangeLines(range: Range, position: Position): boolean {
  return position.line >= range.start.line && position.line <= range.end.line;
}
