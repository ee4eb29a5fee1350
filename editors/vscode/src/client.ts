/**
 * Starts `qwenpair serve` (stdio) as a language client and wraps the server's commands.
 *
 * vscode-languageclient 10 speaks LSP 3.18, so textDocument/inlineCompletion becomes a VS Code
 * inline completion provider by itself, items' ranges included (an item may replace the
 * closers the editor auto-inserted after the cursor); the middleware here only skips
 * languages the user turned off. A multi-line suggestion first answers with its first line;
 * `qwenpair/inlineCompletionExtended` then says the whole block is ready, and the shown
 * suggestion is asked for again (the server answers from its cache; docs/lsp.md). The server's executeCommand names (qwenpair.status, .chat, .edit, .reindex,
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
  /** the user turn as the model saw it: what the next request's history should carry */
  sent?: string;
  stop_reason?: string;
  warnings?: string[];
}
export interface EditResult {
  edit: WorkspaceEdit;
  diff?: string;
  warnings?: string[];
}

/** `qwenpair/inlineCompletionExtended`: a multi-line suggestion's whole block is ready. */
interface ExtendedParams {
  textDocument: { uri: string; version: number };
  position: { line: number; character: number };
  items: Array<{ insertText: string; range?: Range }>;
}

export interface EditArgs {
  uri: string;
  range: Range;
  instruction?: string;
  version?: number;
}

/**
 * Client-side handlers for server commands that code actions carry: a plain executeCommand
 * would drop a chat answer and could not ask for an edit's instruction or show its diff.
 */
export interface CommandHandlers {
  chat(args: ChatArgs): Promise<unknown>;
  edit(args: EditArgs): Promise<unknown>;
}

export class QwenpairClient {
  readonly client: LanguageClient;

  constructor(settings: Settings, output: vscode.LogOutputChannel, handlers: CommandHandlers) {
    const [command, ...args] = settings.serverCommand;
    const serverOptions: ServerOptions = { command, args, transport: TransportKind.stdio };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [{ scheme: 'file' }, { scheme: 'untitled' }],
      initializationOptions: initializationOptions(settings),
      outputChannel: output,
      middleware: {
        provideInlineCompletionItems: (document, position, context, token, next) =>
          isEnabled(settings.enable, document.languageId) ? next(document, position, context, token) : null,
        executeCommand: (command, args, next) => {
          if (command === 'qwenpair.chat') return handlers.chat(args[0]);
          if (command === 'qwenpair.edit') return handlers.edit(args[0]);
          return next(command, args);
        },
      },
    };
    this.client = new LanguageClient('qwenpair', 'qwenpair', serverOptions, clientOptions);
  }

  async start(): Promise<void> {
    await this.client.start();
    this.client.onNotification('qwenpair/inlineCompletionExtended', (params: ExtendedParams) =>
      this.onExtended(params),
    );
  }

  /** The block of the suggestion shown in the active editor is ready: ask for it again. */
  private onExtended(params: ExtendedParams): void {
    const editor = vscode.window.activeTextEditor;
    if (!editor || this.client.code2ProtocolConverter.asUri(editor.document.uri) !== params?.textDocument?.uri) {
      return;
    }
    // Typing along keeps the cursor on the suggestion's line; elsewhere it is no longer shown.
    if (!editor.selection.isEmpty || editor.selection.active.line !== params.position?.line) {
      return;
    }
    void vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
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

  edit(args: EditArgs & { instruction: string }): Promise<EditResult> {
    return this.execute('qwenpair.edit', [args]);
  }

  /** Calls {handler} for each `qwenpair/chatDelta` notification. */
  onChatDelta(handler: (delta: { streamId: string; text: string }) => void): vscode.Disposable {
    return this.client.onNotification('qwenpair/chatDelta', handler);
  }
}
