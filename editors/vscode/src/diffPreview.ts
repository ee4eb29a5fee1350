/**
 * Shows a proposed change to a document as a diff, and applies it only if the user accepts.
 *
 * Used by "edit selection" (the server's WorkspaceEdit) and by the chat's Apply button (a code
 * block replacing the selection). The proposed text is served from memory under the
 * `qwenpair-proposed:` scheme; nothing touches the document before Accept, and a document
 * that changed while the diff was open is not overwritten.
 */
import * as vscode from 'vscode';
import { applyTextEdits, type TextEdit } from './textEdits';

const SCHEME = 'qwenpair-proposed';

export class DiffPreview implements vscode.TextDocumentContentProvider {
  private readonly proposals = new Map<string, string>();
  private count = 0;

  register(): vscode.Disposable {
    return vscode.workspace.registerTextDocumentContentProvider(SCHEME, this);
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.proposals.get(uri.toString()) ?? '';
  }

  /** Shows {edits} (LSP form) to {document} as a diff; applies them on Accept. */
  async propose(document: vscode.TextDocument, edits: TextEdit[], title: string): Promise<boolean> {
    const version = document.version;
    const proposedText = applyTextEdits(document.getText(), edits);
    const proposed = vscode.Uri.from({ scheme: SCHEME, path: document.uri.path, query: String(++this.count) });
    this.proposals.set(proposed.toString(), proposedText);
    try {
      await vscode.commands.executeCommand('vscode.diff', document.uri, proposed, title, { preview: true });
      const choice = await vscode.window.showInformationMessage(`${title}: apply this change?`, 'Accept', 'Discard');
      if (choice !== 'Accept') {
        return false;
      }
      if (document.version !== version) {
        vscode.window.showWarningMessage('qwenpair: the document changed meanwhile; nothing was applied.');
        return false;
      }
      const edit = new vscode.WorkspaceEdit();
      for (const e of edits) {
        const range = new vscode.Range(e.range.start.line, e.range.start.character, e.range.end.line, e.range.end.character);
        edit.replace(document.uri, range, e.newText);
      }
      return vscode.workspace.applyEdit(edit);
    } finally {
      this.proposals.delete(proposed.toString());
      await closeTabsOf(proposed);
    }
  }
}

async function closeTabsOf(uri: vscode.Uri): Promise<void> {
  const tabs = vscode.window.tabGroups.all
    .flatMap((g) => g.tabs)
    .filter((t) => t.input instanceof vscode.TabInputTextDiff && t.input.modified.toString() === uri.toString());
  if (tabs.length > 0) {
    await vscode.window.tabGroups.close(tabs);
  }
}
