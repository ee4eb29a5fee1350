/**
 * Next edits in the editor (docs/lsp.md, "Next edits").
 *
 * The extension asks `qwenpair/nextEdit` at the cursor after an edit pause
 * (`qwenpair.nextEdit.pauseMs`), right after a suggestion is accepted, on *qwenpair: Suggest
 * Next Edit*, and when the server says one is ready (`qwenpair/nextEditReady`). An answer is
 * drawn as decorations: the text it deletes struck through, the new text after it, a bar at
 * the left of its lines and a mark in the overview ruler, and, when the edit is away from the
 * cursor ("jump"), a hint at the cursor saying where. Tab (while one is drawn and no ghost text
 * is) goes to it, and Tab there applies it, runs its command on the server and asks for the
 * next one. Esc dismisses it (`qwenpair/suggestionOutcome`); a change to the document drops
 * it, which the server sees as typed over.
 *
 * The server's next-edit items also come through the language client's inline completion
 * provider with their range (when it computed one ahead for the cursor's line). Items VS Code
 * can draw as ghost text (insertions) stay with VS Code, marked as next edits; the others
 * (replacements) are drawn here as above, and the completions of that answer are dropped so
 * that Tab stays the next edit's.
 */
import * as vscode from 'vscode';
import type { QwenpairClient } from './client';
import {
  acceptCommand,
  editView,
  ghostCanShow,
  isSuggestionCommand,
  NEXT_EDIT_COMMAND,
  type NextEditAnswer,
  onRangeLines,
  positionAfter,
  suggestionRef,
} from './nextEdit';
import type { Outcomes } from './outcomes';
import { isEnabled } from './settings';
import type { Position, Range, TextEdit } from './textEdits';

const CONTEXT_KEY = 'qwenpair.nextEditVisible';
/** the documents the language client syncs (client.ts) */
const SCHEMES = ['file', 'untitled'];

export interface NextEditSettings {
  enabled: boolean;
  /** ask this long after the last change; 0: never on a pause */
  pauseMs: number;
  /** `qwenpair.enable`: languages turned off get no next edits either */
  languages: Record<string, boolean>;
}

/** The drawn next edit. */
interface Drawn {
  answer: NextEditAnswer;
  target: TextEdit;
  document: vscode.TextDocument;
  version: number;
  /** drawn here (VS Code cannot draw it as ghost text); false: only marked as a next edit */
  ours: boolean;
}

type Reason = 'pause' | 'accept' | 'command' | 'ready' | 'jump';

export class NextEditView implements vscode.Disposable {
  private readonly strike = vscode.window.createTextEditorDecorationType({
    textDecoration: 'line-through',
    backgroundColor: new vscode.ThemeColor('diffEditor.removedTextBackground'),
  });
  private readonly insert = vscode.window.createTextEditorDecorationType({
    after: {
      backgroundColor: new vscode.ThemeColor('diffEditor.insertedTextBackground'),
      color: new vscode.ThemeColor('editor.foreground'),
    },
  });
  private readonly marker = vscode.window.createTextEditorDecorationType({
    isWholeLine: true,
    overviewRulerColor: new vscode.ThemeColor('editorOverviewRuler.modifiedForeground'),
    overviewRulerLane: vscode.OverviewRulerLane.Right,
    borderColor: new vscode.ThemeColor('editorGutter.modifiedBackground'),
    borderStyle: 'solid',
    borderWidth: '0 0 0 2px',
  });
  private readonly hint = vscode.window.createTextEditorDecorationType({
    after: { color: new vscode.ThemeColor('editorGhostText.foreground'), margin: '0 0 0 2em' },
  });
  private drawn?: Drawn;
  private pause?: NodeJS.Timeout;
  private asking?: { key: string; cancel: vscode.CancellationTokenSource };
  private lastKey = '';
  /** our own edit is being applied: its change is not the user's */
  private applying = false;

  constructor(
    private readonly client: () => QwenpairClient | undefined,
    private readonly outcomes: Outcomes,
    private readonly settings: () => NextEditSettings,
    private readonly output: vscode.LogOutputChannel,
  ) {}

  register(): vscode.Disposable {
    return vscode.Disposable.from(
      this,
      vscode.commands.registerCommand('qwenpair.suggestNextEdit', () => this.ask('command', true)),
      vscode.commands.registerCommand('qwenpair.acceptNextEdit', () => this.jumpOrAccept()),
      vscode.commands.registerCommand('qwenpair.dismissNextEdit', () => this.dismiss()),
      vscode.workspace.onDidChangeTextDocument((e) => this.changed(e)),
      vscode.window.onDidChangeTextEditorSelection((e) => {
        if (this.drawn && e.textEditor.document === this.drawn.document) {
          this.render();
        }
      }),
      vscode.window.onDidChangeActiveTextEditor(() => this.render()),
    );
  }

  /** `qwenpair/nextEditReady` for {uri} at {version}: ask, if it is the active document as it is. */
  ready(uri: string | undefined, version: number | undefined): void {
    const editor = vscode.window.activeTextEditor;
    const client = this.client();
    if (editor && client && client.uriOf(editor.document) === uri && (version === undefined || version === editor.document.version)) {
      void this.ask('ready');
    }
  }

  /** Esc hid VS Code's ghost text: a next edit it was drawing is no longer shown. */
  ghostHidden(): void {
    if (this.drawn && !this.drawn.ours) {
      this.clear();
    }
  }

  /** VS Code accepted a suggestion whole: ask for the next edit. */
  accepted(): void {
    this.clear();
    // the accepted text reaches the document (and the server) before the command runs
    void this.ask('accept');
  }

  /**
   * The inline completion provider's items at {position}: next edits VS Code cannot draw as
   * ghost text are drawn here and taken out; the rest go on to VS Code, except while a next
   * edit drawn here covers the cursor's line: then Tab is its accept, and no completion's.
   */
  items(document: vscode.TextDocument, position: vscode.Position, items: vscode.InlineCompletionItem[]): vscode.InlineCompletionItem[] {
    const kept: vscode.InlineCompletionItem[] = [];
    for (const item of items) {
      if (item.command?.command !== NEXT_EDIT_COMMAND || !item.range || typeof item.insertText !== 'string') {
        kept.push(item);
        continue;
      }
      if (!this.settings().enabled) {
        continue; // next edits off: neither drawn here nor by VS Code
      }
      const range = item.range;
      const cursor = range.contains(position) && range.start.line === position.line ? position.character - range.start.character : -1;
      const target: TextEdit = { range: toLsp(range), newText: item.insertText };
      const answer: NextEditAnswer = {
        kind: 'inline',
        id: suggestionRef(item.command)?.id,
        target,
        item: { insertText: item.insertText, range: target.range, command: item.command },
      };
      if (cursor >= 0 && ghostCanShow(document.getText(range), item.insertText, cursor)) {
        kept.push(item); // VS Code draws it; marked here as a next edit
        this.show(answer, document, document.version, false);
      } else if (!this.drawn || this.drawn.document !== document || !sameEdit(this.drawn.target, target)) {
        this.show(answer, document, document.version, true);
      }
    }
    const drawn = this.drawn;
    if (drawn?.ours && drawn.document === document && drawn.version === document.version && onRangeLines(drawn.target.range, position)) {
      return [];
    }
    return kept;
  }

  /** Asks `qwenpair/nextEdit` at the cursor of the active editor. */
  async ask(reason: Reason, force = false): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    const client = this.client();
    if (!editor || !client?.running || (!this.settings().enabled && !force)) {
      return;
    }
    const document = editor.document;
    if (!SCHEMES.includes(document.uri.scheme) || !isEnabled(this.settings().languages, document.languageId)) {
      return; // not a document the server has, or a language turned off
    }
    const version = document.version;
    const position = editor.selection.active;
    const uri = client.uriOf(document);
    const key = `${uri}@${version}:${position.line}:${position.character}`;
    if (!force && (key === this.lastKey || this.asking?.key === key)) {
      return; // asked already for the document as it is (pause and ready arrive together)
    }
    this.asking?.cancel.cancel();
    const cancel = new vscode.CancellationTokenSource();
    this.asking = { key, cancel };
    this.lastKey = key;
    let answer: NextEditAnswer;
    try {
      answer = await client.nextEdit(uri, { line: position.line, character: position.character }, cancel.token);
    } catch (err) {
      if (!cancel.token.isCancellationRequested) {
        this.output.warn(`qwenpair/nextEdit: ${err instanceof Error ? err.message : String(err)}`);
      }
      return;
    } finally {
      if (this.asking?.cancel === cancel) {
        this.asking = undefined;
      }
      cancel.dispose();
    }
    if (cancel.token.isCancellationRequested || document.version !== version || !answer || !answer.target) {
      if (answer?.kind === 'none') {
        this.output.debug(`next edit (${reason}): none: ${answer.reason ?? ''}`);
        if (force) {
          vscode.window.setStatusBarMessage(`qwenpair: no next edit (${answer.reason || 'nothing to suggest'})`, 4000);
        }
      }
      return;
    }
    this.output.debug(`next edit (${reason}): ${answer.kind} at line ${answer.target.range.start.line + 1}`);
    this.show(answer, document, version, true);
  }

  private show(answer: NextEditAnswer, document: vscode.TextDocument, version: number, ours: boolean): void {
    if (answer.target) {
      this.drawn = { answer, target: answer.target, document, version, ours };
      this.render();
    }
  }

  /** Draws the current next edit in the editors showing its document. */
  private render(): void {
    const drawn = this.drawn;
    for (const editor of vscode.window.visibleTextEditors) {
      const mine = drawn && editor.document === drawn.document;
      if (!mine || !drawn) {
        for (const type of [this.strike, this.insert, this.marker, this.hint]) {
          editor.setDecorations(type, []);
        }
        continue;
      }
      const target = drawn.target;
      const range = toRange(target.range);
      const view = editView(target, editor.document.getText(range));
      const hover = new vscode.MarkdownString(`**qwenpair: next edit** (Tab: ${this.atTarget(editor) ? 'accept' : 'go there'}, Esc: dismiss)\n\n${view.diff}`);
      const deleted = toRange(view.deleted);
      const shownText = view.inserted + (view.moreLines > 0 ? ` …(+${view.moreLines} lines)` : '');
      const lines = new vscode.Range(range.start.line, 0, Math.max(range.start.line, range.end.line), 0);
      editor.setDecorations(this.marker, [{ range: lines, hoverMessage: hover }]);
      if (drawn.ours) {
        editor.setDecorations(this.strike, deleted.isEmpty ? [] : [{ range: deleted, hoverMessage: hover }]);
        editor.setDecorations(this.insert, shownText === '' ? [] : [{
          range: new vscode.Range(deleted.end, deleted.end),
          renderOptions: { after: { contentText: shownText } },
        }]);
      } else {
        editor.setDecorations(this.strike, []);
        editor.setDecorations(this.insert, []);
      }
      const cursor = editor.selection.active;
      const away = !this.atTarget(editor);
      editor.setDecorations(this.hint, away ? [{
        range: new vscode.Range(cursor.line, Number.MAX_SAFE_INTEGER, cursor.line, Number.MAX_SAFE_INTEGER),
        renderOptions: { after: { contentText: `⇥ Tab: next edit at line ${range.start.line + 1}` } },
      }] : []);
    }
    void vscode.commands.executeCommand('setContext', CONTEXT_KEY, drawn?.ours === true);
  }

  private atTarget(editor: vscode.TextEditor): boolean {
    return this.drawn !== undefined && onRangeLines(this.drawn.target.range, editor.selection.active);
  }

  /** Tab: go to the drawn next edit, or apply it when the cursor is there. */
  async jumpOrAccept(): Promise<void> {
    const drawn = this.drawn;
    const editor = vscode.window.activeTextEditor;
    if (!drawn || !editor || editor.document !== drawn.document) {
      return;
    }
    if (drawn.document.version !== drawn.version) {
      this.clear();
      return;
    }
    if (!this.atTarget(editor)) {
      const at = toPosition(drawn.answer.jump ?? drawn.target.range.start);
      editor.selection = new vscode.Selection(at, at);
      editor.revealRange(new vscode.Range(at, at), vscode.TextEditorRevealType.InCenterIfOutsideViewport);
      this.render(); // the drawn edit is now at the cursor: Tab applies it
      return;
    }
    await this.accept(editor, drawn);
  }

  private async accept(editor: vscode.TextEditor, drawn: Drawn): Promise<void> {
    const range = toRange(drawn.target.range);
    this.applying = true;
    let applied: boolean;
    try {
      applied = await editor.edit((b) => b.replace(range, drawn.target.newText));
    } finally {
      this.applying = false;
    }
    this.clear();
    if (!applied) {
      return;
    }
    const end = toPosition(positionAfter(drawn.target.range.start, drawn.target.newText, drawn.target.newText.length));
    editor.selection = new vscode.Selection(end, end);
    const command = acceptCommand(drawn.answer);
    const client = this.client();
    if (client?.running && isSuggestionCommand(command)) {
      const ref = suggestionRef(command);
      if (ref) {
        this.outcomes.forget(ref.id);
      }
      await client.runSuggestionCommand(command).catch((err) => this.output.warn(`${command.command}: ${err}`));
    }
    await this.ask('accept');
  }

  /** Esc: drop the drawn next edit and tell the server. */
  dismiss(): void {
    const drawn = this.drawn;
    const client = this.client();
    this.clear();
    const ref = drawn ? suggestionRef(acceptCommand(drawn.answer)) : undefined;
    if (drawn && ref && client) {
      this.outcomes.send(ref, 'dismissed', client.uriOf(drawn.document));
    }
  }

  private changed(e: vscode.TextDocumentChangeEvent): void {
    if (e.contentChanges.length === 0) {
      return;
    }
    if (this.drawn && e.document === this.drawn.document && !this.applying) {
      this.clear(); // stale: the server sees the change (typed over)
    }
    const editor = vscode.window.activeTextEditor;
    if (this.applying || !editor || editor.document !== e.document) {
      return;
    }
    clearTimeout(this.pause);
    const { enabled, pauseMs } = this.settings();
    if (!enabled || pauseMs <= 0) {
      return;
    }
    this.pause = setTimeout(() => {
      // A completion drawn as ghost text goes first; the pause asks only when none is.
      if (vscode.window.activeTextEditor?.document === e.document && !this.outcomes.showing(e.document)) {
        void this.ask('pause');
      }
    }, pauseMs);
  }

  private clear(): void {
    if (this.drawn) {
      this.drawn = undefined;
      this.render();
    }
  }

  dispose(): void {
    clearTimeout(this.pause);
    this.asking?.cancel.cancel();
    for (const type of [this.strike, this.insert, this.marker, this.hint]) {
      type.dispose();
    }
  }
}

function toPosition(p: Position): vscode.Position {
  return new vscode.Position(p.line, p.character);
}

function toRange(r: Range): vscode.Range {
  return new vscode.Range(toPosition(r.start), toPosition(r.end));
}

function toLsp(r: vscode.Range): Range {
  return { start: { line: r.start.line, character: r.start.character }, end: { line: r.end.line, character: r.end.character } };
}

function sameEdit(a: TextEdit, b: TextEdit): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
