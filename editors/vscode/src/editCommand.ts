/**
 * Editing with an instruction: "qwenpair: Edit Selection with Instruction" and the server's
 * edit code actions both send `qwenpair.edit` (asking the user for the instruction when there
 * is none) and show the returned WorkspaceEdit as a diff to accept. With no selection the
 * command edits the cursor's line.
 */
import * as vscode from 'vscode';
import type { EditArgs, QwenpairClient } from './client';
import type { DiffPreview } from './diffPreview';
import { editsFor } from './textEdits';

const CONTENT_MODIFIED = -32801;

/** Runs an edit for {args} (from the command or a code action) and proposes its result. */
export async function runEdit(client: QwenpairClient, preview: DiffPreview, args: EditArgs): Promise<void> {
  const instruction =
    args.instruction ??
    (await vscode.window.showInputBox({
      prompt: 'How should qwenpair change the selection?',
      placeHolder: 'e.g. add type hints',
    }));
  if (!instruction) {
    return;
  }
  const document = await vscode.workspace.openTextDocument(vscode.Uri.parse(args.uri));
  const result = await vscode.window
    .withProgress({ location: vscode.ProgressLocation.Notification, title: 'qwenpair: editing…' }, () =>
      client.edit({ ...args, instruction, version: args.version ?? document.version }),
    )
    .then(
      (r) => r,
      (err: { code?: number; message?: string }) => {
        const message =
          err.code === CONTENT_MODIFIED ? 'the document changed while editing; try again' : (err.message ?? String(err));
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

/** The "Edit Selection with Instruction" command, on the active editor's selection. */
export async function editSelection(client: QwenpairClient, preview: DiffPreview): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  if (!editor) {
    vscode.window.showWarningMessage('qwenpair: open a file and select the code to edit.');
    return;
  }
  const document = editor.document;
  const selection = editor.selection.isEmpty ? document.lineAt(editor.selection.active.line).range : editor.selection;
  await runEdit(client, preview, {
    uri: document.uri.toString(),
    range: {
      start: { line: selection.start.line, character: selection.start.character },
      end: { line: selection.end.line, character: selection.end.character },
    },
    version: document.version,
  });
}
