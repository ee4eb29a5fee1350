/**
 * Starts `qwenpair serve` (stdio) as a language client and wraps the server's commands.
 *
 * vscode-languageclient 10 speaks LSP 3.18, so textDocument/inlineCompletion becomes a VS Code
 * inline completion provider by itself; the middleware here only skips languages the user
 * turned off. The server's executeCommand names (qwenpair.status, .chat, .edit, .reindex,
 * .switchModel) are wrapped as typed methods; the extension's own VS Code commands use other
 * ids, because the client registers the server's command ids with VS Code itself.
 */
import * as vscode from 'vscode';
import {
  ExecuteCommandRequest,
  LanguageClient,
  type LanguageClientOptions,
  type ServerOptions,
  TransportKind,
} from 'vscode-languageclient/node';
import { initializationOptions, isEnabled, type Settings } from './settings';
import type { ServerStatus } from './statusText';
import type { Range, WorkspaceEdit } from './textEdits';

export interface ChatArgs {
  question: string;
  uri?: string;
  range?: Range;
  history?: Array<{ role: string; content: string }>;
  streamId?: string;
}
export interface ChatResult {
  text: string;
  stop_reason?: string;
  warnings?: string[];
}
export interface EditResult {
  edit: WorkspaceEdit;
  diff?: string;
  warnings?: string[];
}

export class QwenpairClient {
  readonly client: LanguageClient;

  constructor(settings: Settings, output: vscode.LogOutputChannel) {
    const [command, ...args] = settings.serverCommand;
    const serverOptions: ServerOptions = { command, args, transport: TransportKind.stdio };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [{ scheme: 'file' }, { scheme: 'untitled' }],
      initializationOptions: initializationOptions(settings),
      outputChannel: output,
      middleware: {
        provideInlineCompletionItems: (document, position, context, token, next) =>
          isEnabled(settings.enable, document.languageId) ? next(document, position, context, token) : null,
      },
    };
    this.client = new LanguageClient('qwenpair', 'qwenpair', serverOptions, clientOptions);
  }

  start(): Promise<void> {
    return this.client.start();
  }

  stop(): Promise<void> {
    return this.client.stop();
  }

  get running(): boolean {
    return this.client.isRunning();
  }

  private execute<T>(command: string, args: unknown[] = []): Promise<T> {
    return this.client.sendRequest(ExecuteCommandRequest.type, { command, arguments: args }) as Promise<T>;
  }

  status(): Promise<ServerStatus> {
    return this.execute('qwenpair.status');
  }

  reindex(): Promise<unknown> {
    return this.execute('qwenpair.reindex');
  }

  switchModel(change: { model?: string; chat_model?: string; adapter?: string }): Promise<unknown> {
    return this.execute('qwenpair.switchModel', [change]);
  }

  chat(args: ChatArgs): Promise<ChatResult> {
    return this.execute('qwenpair.chat', [args]);
  }

  edit(args: { uri: string; range: Range; instruction: string; version?: number }): Promise<EditResult> {
    return this.execute('qwenpair.edit', [args]);
  }

  /** Calls {handler} for each `qwenpair/chatDelta` notification. */
  onChatDelta(handler: (delta: { streamId: string; text: string }) => void): vscode.Disposable {
    return this.client.onNotification('qwenpair/chatDelta', handler);
  }
}
