/**
 * LSP text edits on plain strings: what a document would read after a WorkspaceEdit.
 *
 * The edit diff preview and the chat's "apply" show this proposed text before anything
 * changes. Pure (no VS Code API); positions are UTF-16 code units, as JavaScript strings and
 * LSP's default position encoding both count.
 */

export interface Position {
  line: number;
  character: number;
}
export interface Range {
  start: Position;
  end: Position;
}
export interface TextEdit {
  range: Range;
  newText: string;
}
export interface WorkspaceEdit {
  changes?: Record<string, TextEdit[]>;
  documentChanges?: Array<{ textDocument?: { uri: string }; edits?: TextEdit[] }>;
}

/** The offset of {pos} in {text}, clamped to the text as LSP requires. */
export function offsetAt(text: string, pos: Position): number {
  let offset = 0;
  for (let line = 0; line < pos.line; line++) {
    const next = text.indexOf('\n', offset);
    if (next === -1) {
      return text.length;
    }
    offset = next + 1;
  }
  const end = text.indexOf('\n', offset);
  const lineEnd = end === -1 ? text.length : end;
  return Math.min(offset + pos.character, lineEnd);
}

/** {text} with {edits} applied (the edits must not overlap, as LSP requires). */
export function applyTextEdits(text: string, edits: TextEdit[]): string {
  const spans = edits
    .map((e) => ({ start: offsetAt(text, e.range.start), end: offsetAt(text, e.range.end), newText: e.newText }))
    .sort((a, b) => b.start - a.start || b.end - a.end);
  let out = text;
  for (const s of spans) {
    out = out.slice(0, s.start) + s.newText + out.slice(s.end);
  }
  return out;
}

/** The edits that {edit} makes to the document {uri}, in either WorkspaceEdit form. */
export function editsFor(edit: WorkspaceEdit, uri: string): TextEdit[] {
  const edits: TextEdit[] = [...(edit.changes?.[uri] ?? [])];
  for (const change of edit.documentChanges ?? []) {
    if (change.textDocument?.uri === uri && change.edits) {
      edits.push(...change.edits);
    }
  }
  return edits;
}
