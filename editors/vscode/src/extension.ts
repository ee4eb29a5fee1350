/**
 * The qwenpair VS Code extension: starts the language server with the user's settings as
 * initializationOptions (restarting it when they change) and wires up the chat view, the
 * edit, reindex, switch-model and status commands, and the status-bar item.
 * Inline completions come from the language client itself (LSP 3.18 inlineCompletion); next
 * edits (nextEditView.ts) and suggestion outcomes (outcomes.ts) ride on its items.
 */
import * as vscode from 'vscode';
import { ChatView } from './chatView';
import { QwenpairClient } from './client';
import { DiffPreview } from './diffPreview';
import { editSelection, runEdit } from './editCommand';
import { suggestionRef } from './nextEdit';
import { NextEditView } from './nextEditView';
import { Outcomes } from './outcomes';
import { readSettings, RESTART_KEYS } from './settings';
import { StatusBar } from './statusBar';
import { statusText } from './statusText';

let current: QwenpairClient | undefined;

function settings() {
  const config = vscode.workspace.getConfiguration('qwenpair');
  return readSettings((key) => config.get(key));
}

interface Parts {
  output: vscode.LogOutputChannel;
  chat: ChatView;
  preview: DiffPreview;
  outcomes: Outcomes;
  nextEdits: NextEditView;
}

async function startClient({ output, chat, preview, outcomes, nextEdits }: Parts): Promise<void> {
  const client: QwenpairClient = new QwenpairClient(
    settings(),
    output,
    {
      chat: (args) => chat.askFromAction(args),
      edit: (args): Promise<void> => runEdit(client, preview, args),
    },
    {
      items: (document, position, items) => {
        const kept = nextEdits.items(document, position, items);
        outcomes.answered(document, kept);
        return kept;
      },
      accepted: (command, args) => {
        outcomes.forget(suggestionRef({ command, arguments: args })?.id);
        nextEdits.accepted();
      },
    },
  );
  current = client;
  client.onChatDelta((delta) => chat.onDelta(delta));
  client.onNextEditReady((params) => nextEdits.ready(params?.textDocument?.uri, params?.textDocument?.version));
  try {
    await client.start();
  } catch (err) {
    vscode.window.showErrorMessage(
      `qwenpair: could not start the server (${err instanceof Error ? err.message : String(err)}). ` +
        'Check the qwenpair.serverCommand setting.',
    );
  }
}

async function switchModel(): Promise<void> {
  const which = await vscode.window.showQuickPick(
    [
      { label: 'Completion model', key: 'model' as const },
      { label: 'Chat model', key: 'chat_model' as const },
      { label: 'LoRA adapter', key: 'adapter' as const },
    ],
    { placeHolder: 'What to switch' },
  );
  if (!which) {
    return;
  }
  const value = await vscode.window.showInputBox({
    prompt: `${which.label}: a registry name (qwen2.5-coder-1.5b) or a .gguf path`,
  });
  if (value === undefined || !current) {
    return;
  }
  await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `qwenpair: loading ${value}…` },
    () => current!.switchModel({ [which.key]: value }),
  );
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const output = vscode.window.createOutputChannel('qwenpair', { log: true });
  const preview = new DiffPreview();
  const chat = new ChatView(context.extensionUri, () => current, preview);
  const statusBar = new StatusBar(() => current);
  const outcomes: Outcomes = new Outcomes(() => current, output, () => nextEdits.ghostHidden());
  const nextEdits: NextEditView = new NextEditView(() => current, outcomes, () => {
    const s = settings();
    return { ...s.nextEdit, languages: s.enable };
  }, output);
  const parts: Parts = { output, chat, preview, outcomes, nextEdits };
  const withClient = (run: (c: QwenpairClient) => Promise<unknown>) => async () => {
    if (!current?.running) {
      vscode.window.showWarningMessage('qwenpair: the server is not running.');
      return;
    }
    try {
      await run(current);
    } catch (err) {
      vscode.window.showErrorMessage(`qwenpair: ${err instanceof Error ? err.message : String(err)}`);
    }
    await statusBar.refresh();
  };

  context.subscriptions.push(
    output,
    statusBar,
    preview.register(),
    outcomes.register(),
    nextEdits.register(),
    vscode.window.registerWebviewViewProvider(ChatView.id, chat),
    vscode.commands.registerCommand('qwenpair.openChat', () =>
      vscode.commands.executeCommand(`${ChatView.id}.focus`),
    ),
    vscode.commands.registerCommand('qwenpair.editSelection', withClient((c) => editSelection(c, preview))),
    vscode.commands.registerCommand('qwenpair.reindexWorkspace', withClient((c) => c.reindex())),
    vscode.commands.registerCommand('qwenpair.pickModel', withClient(() => switchModel())),
    vscode.commands.registerCommand(
      'qwenpair.showStatus',
      withClient(async (c) => {
        const { tooltip } = statusText(await c.status());
        vscode.window.showInformationMessage(tooltip.split('\n').join(' · '));
      }),
    ),
    vscode.workspace.onDidChangeConfiguration(async (e) => {
      if (RESTART_KEYS.some((key) => e.affectsConfiguration(`qwenpair.${key}`))) {
        await current?.stop();
        await startClient(parts);
      }
    }),
  );
  await startClient(parts);
  await statusBar.refresh();
}

export async function deactivate(): Promise<void> {
  await current?.stop();
}
