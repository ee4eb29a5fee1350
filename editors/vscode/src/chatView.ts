/**
 * The chat view: a webview in the qwenpair side bar. A question goes to the server's
 * `qwenpair.chat` with the active editor's selection as context and the conversation so far;
 * the answer streams in from `qwenpair/chatDelta` notifications. Each code block gets Insert
 * (at the cursor) and Apply (replace the selection, shown as a diff to accept) buttons.
 *
 * The extension splits answers into prose and code (markdown.ts) and sends the segments; the
 * webview script (media/chat.js) only draws them and posts button clicks back.
 */
import * as vscode from 'vscode';
import type { ChatArgs, QwenpairClient } from './client';
import type { DiffPreview } from './diffPreview';
import { splitCodeBlocks } from './markdown';
import type { Range } from './textEdits';

type FromWebview =
  | { type: 'ask'; question: string }
  | { type: 'insert'; code: string }
  | { type: 'apply'; code: string };

export class ChatView implements vscode.WebviewViewProvider {
  static readonly id = 'qwenpair.chat';
  private view?: vscode.WebviewView;
  private readonly history: Array<{ role: string; content: string }> = [];
  private readonly streams = new Map<string, string>();
  private count = 0;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly client: () => QwenpairClient | undefined,
    private readonly preview: DiffPreview,
  ) {}

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    const media = vscode.Uri.joinPath(this.extensionUri, 'media');
    view.webview.options = { enableScripts: true, localResourceRoots: [media] };
    const script = view.webview.asWebviewUri(vscode.Uri.joinPath(media, 'chat.js'));
    const style = view.webview.asWebviewUri(vscode.Uri.joinPath(media, 'chat.css'));
    const csp = `default-src 'none'; style-src ${view.webview.cspSource}; script-src ${view.webview.cspSource};`;
    view.webview.html = `<!DOCTYPE html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<link rel="stylesheet" href="${style}"></head>
<body><div id="log"></div>
<form id="ask"><textarea id="question" rows="3" placeholder="Ask about the selection or the workspace"></textarea>
<button type="submit">Ask</button></form>
<script src="${script}"></script></body></html>`;
    view.webview.onDidReceiveMessage((m: FromWebview) => this.onMessage(m));
  }

  /** Routes a `qwenpair/chatDelta` notification to the answer it belongs to. */
  onDelta(delta: { streamId: string; text: string }): void {
    const sofar = this.streams.get(delta.streamId);
    if (sofar !== undefined) {
      const text = sofar + delta.text;
      this.streams.set(delta.streamId, text);
      this.post({ type: 'answer', id: delta.streamId, segments: splitCodeBlocks(text), done: false });
    }
  }

  private post(message: unknown): void {
    void this.view?.webview.postMessage(message);
  }

  private async onMessage(m: FromWebview): Promise<void> {
    if (m.type === 'ask') {
      await this.ask(this.fromActiveEditor(m.question));
      return;
    }
    const editor = vscode.window.activeTextEditor ?? vscode.window.visibleTextEditors[0];
    if (!editor) {
      vscode.window.showWarningMessage('qwenpair: open a file to insert the code into.');
    } else if (m.type === 'insert') {
      await editor.edit((b) => b.insert(editor.selection.active, m.code));
    } else {
      await this.preview.propose(editor.document, [{ range: asRange(editor.selection), newText: m.code }], 'qwenpair: apply code block');
    }
  }

  /** A question about the active editor's document and selection, if any. */
  private fromActiveEditor(question: string): ChatArgs {
    const editor = vscode.window.activeTextEditor;
    if (!editor) {
      return { question };
    }
    const args: ChatArgs = { question, uri: editor.document.uri.toString() };
    if (!editor.selection.isEmpty) {
      args.range = asRange(editor.selection);
    }
    return args;
  }

  /** A question from a code action (Explain, Generate tests): shown and answered in the view. */
  async askFromAction(args: ChatArgs): Promise<void> {
    await vscode.commands.executeCommand(`${ChatView.id}.focus`);
    await this.ask(args);
  }

  private async ask(question: ChatArgs): Promise<void> {
    const client = this.client();
    if (!client?.running) {
      vscode.window.showWarningMessage('qwenpair: the server is not running.');
      return;
    }
    const id = `vscode-${++this.count}`;
    this.post({ type: 'question', id, text: question.question });
    this.streams.set(id, '');
    try {
      const result = await client.chat({ ...question, history: [...this.history], streamId: id });
      this.post({ type: 'answer', id, segments: splitCodeBlocks(result.text), done: true, warnings: result.warnings ?? [] });
      // `sent` is the turn as the model saw it: the server reuses its cache of it (docs/lsp.md).
      this.history.push({ role: 'user', content: result.sent ?? question.question }, { role: 'assistant', content: result.text });
    } catch (err) {
      this.post({ type: 'error', id, text: err instanceof Error ? err.message : String(err) });
    } finally {
      this.streams.delete(id);
    }
  }
}

function asRange(s: vscode.Selection): Range {
  return { start: { line: s.start.line, character: s.start.character }, end: { line: s.end.line, character: s.end.character } };
}
