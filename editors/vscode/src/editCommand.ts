/**
 * "qwenpair: Edit Selection with Instruction": sends the selected lines and an instruction to
 * the server's `qwenpair.edit`, then shows the returned WorkspaceEdit as a diff to accept.
 * With no selection it edits the cursor's line.
 */
import * as vscode from 'vscode';
import type { QwenpairClient } from './client';
import type { DiffPreview } from './diffPreview';
import { editsFor } from './textEdits';

const CONTENT_MODIFIED = -32801;

export async function editSelection(client: QwenpairClient, preview: DiffPreview): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  if (!editor) {
    vscode.window.showWarningMessage('qwenpair: open a file and select the code to edit.');
    return;
  }
  const document = editor.document;
  const selection = editor.selection.isEmpty ? document.lineAt(editor.selection.active.line).range : editor.selection;
  const instruction = await vscode.window.showInputBox({
    prompt: 'How should qwenpair change the selection?',
    placeHolder: 'e.g. add type hints',
  });
  if (!instruction) {
    return;
  }
  const range = {
    start: { line: selection.start.line, character: selection.start.character },
    end: { line: selection.end.line, character: selection.end.character },
  };
  const result = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'qwenpair: editing…' },
    () => client.edit({ uri: document.uri.toString(), range, instruction, version: document.version }),
  ).then(
    (r) => r,
    (err: { code?: number; message?: string }) => {
      const message =
        err.code === CONTENT_MODIFIED ? 'the document changed while editing; try again' : err.message ?? String(err);
      vscode.window.showErrorMessage(`qwenpair: ${message}`);
      return undefined;
    },
  );
  if (!result) {
    return;
  }
  for (const warning of result.warnings ?? []) {
    vscode.window.showWarningMessage(`qwenpair: ${warning}`);
  }
  const edits = editsFor(result.edit, document.uri.toString());
  if (edits.length === 0) {
    vscode.window.showInformationMessage('qwenpair: the model proposed no change.');
    return;
  }
  await preview.propose(document, edits, `qwenpair edit: ${instruction}`);
}
