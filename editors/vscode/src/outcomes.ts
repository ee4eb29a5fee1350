/**
 * What became of an inline suggestion, told to the server (`qwenpair/suggestionOutcome`,
 * docs/lsp.md "Suggestion outcomes").
 *
 * Accepting a suggestion whole runs its command (`qwenpair.accepted` / `qwenpair.nextEdit`
 * with its id), which the language client sends to the server itself. VS Code's stable API
 * says nothing of partial accepts or dismissals, so the extension takes the keys for them
 * while a suggestion is shown (`inlineSuggestionVisible`): Ctrl+Right (Accept Next Word),
 * *Accept Next Line* and Esc run VS Code's own command and then report `partial` (with the
 * characters accepted of it so far: what each such command inserted, in code points, added
 * up) or `dismissed` (Esc only: a suggestion that vanished because the user typed is the
 * server's to infer, "typed over") for the suggestion shown. Which one is shown is the first
 * item of the provider's last non-empty answer for the document (VS Code draws the first; a
 * user who cycles with Alt+] reports against the first).
 */
import * as vscode from 'vscode';
import type { QwenpairClient } from './client';
import { codePoints, outcomeParams, type Outcome, type SuggestionRef, suggestionRef } from './nextEdit';

interface Shown {
  ref: SuggestionRef;
  uri: string;
  version: number;
  /** characters accepted by partial accepts so far (the notification carries the total) */
  accepted: number;
}

export class Outcomes {
  /** per document (its VS Code URI): the suggestion the provider answered last */
  private readonly shown = new Map<string, Shown>();

  constructor(
    private readonly client: () => QwenpairClient | undefined,
    private readonly output: vscode.LogOutputChannel,
    /** called after Esc hid the ghost text */
    private readonly onHidden: () => void = () => {},
  ) {}

  register(): vscode.Disposable {
    return vscode.Disposable.from(
      vscode.commands.registerCommand('qwenpair.acceptNextWord', () =>
        this.partial('editor.action.inlineSuggest.acceptNextWord'),
      ),
      vscode.commands.registerCommand('qwenpair.acceptNextLine', () =>
        this.partial('editor.action.inlineSuggest.acceptNextLine'),
      ),
      vscode.commands.registerCommand('qwenpair.dismissSuggestion', () => this.dismiss()),
      vscode.workspace.onDidCloseTextDocument((d) => this.shown.delete(d.uri.toString())),
    );
  }

  /** The provider answered {items} for {document}: the first one with an id is shown. */
  answered(document: vscode.TextDocument, items: vscode.InlineCompletionItem[]): void {
    const key = document.uri.toString();
    const ref = items.map((i) => suggestionRef(i.command)).find((r) => r !== undefined);
    const client = this.client();
    if (ref && client) {
      const same = this.shown.get(key)?.ref.id === ref.id ? this.shown.get(key) : undefined;
      this.shown.set(key, { ref, uri: client.uriOf(document), version: document.version, accepted: same?.accepted ?? 0 });
    } else if (items.length > 0) {
      this.shown.delete(key); // shown, but with no id to report against
    }
  }

  /** The suggestion {id} was accepted whole: nothing is shown any more. */
  forget(id: string | undefined): void {
    for (const [key, shown] of this.shown) {
      if (shown.ref.id === id) {
        this.shown.delete(key);
      }
    }
  }

  /** Whether a suggestion was answered for {document} as it is now (so is likely drawn). */
  showing(document: vscode.TextDocument): boolean {
    return this.shown.get(document.uri.toString())?.version === document.version;
  }

  /** Tells the server about {ref}, shown in {uri}. */
  send(ref: SuggestionRef, outcome: Outcome, uri: string, acceptedChars?: number): void {
    const client = this.client();
    if (!client?.running) {
      return;
    }
    const params = outcomeParams(ref, outcome, uri, acceptedChars);
    this.output.debug(`suggestion outcome ${JSON.stringify(params)}`);
    client.outcome(params).catch((err) => this.output.warn(`suggestionOutcome: ${err}`));
  }

  /** Runs VS Code's partial-accept {command} and reports the characters it inserted. */
  private async partial(command: string): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    const shown = editor ? this.shown.get(editor.document.uri.toString()) : undefined;
    let inserted = 0;
    const listening = vscode.workspace.onDidChangeTextDocument((e) => {
      if (e.document === editor?.document) {
        inserted += e.contentChanges.reduce((n, c) => n + codePoints(c.text), 0);
      }
    });
    try {
      await vscode.commands.executeCommand(command);
    } finally {
      listening.dispose();
    }
    if (shown && inserted > 0) {
      shown.accepted += inserted;
      this.send(shown.ref, 'partial', shown.uri, shown.accepted);
    }
  }

  /** Esc on a shown suggestion: hides it and reports `dismissed`. */
  private async dismiss(): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    await vscode.commands.executeCommand('editor.action.inlineSuggest.hide');
    this.onHidden();
    const key = editor?.document.uri.toString();
    const shown = key ? this.shown.get(key) : undefined;
    if (key && shown) {
      this.shown.delete(key);
      this.send(shown.ref, 'dismissed', shown.uri);
    }
  }
}
