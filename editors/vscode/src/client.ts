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
 *
 * Suggestions (src/nextEdit.ts): the provider's items pass through `SuggestionHooks.items`
 * (next edits VS Code cannot draw are taken out and drawn by the extension), and a
 * suggestion's command run on accept (`qwenpair.accepted`, `qwenpair.nextEdit`) still goes to
 * the server and then tells `SuggestionHooks.accepted`.
 */
import * as vscode from 'vscode';
import {
  ExecuteCommandRequest,
  LanguageClient,
  type LanguageClientOptions,
  type ServerOptions,
  TransportKind,
} from 'vscode-languageclient/node';
import {
  type Command,
  isSuggestionCommand,
  NEXT_EDIT_READY,
  NEXT_EDIT_REQUEST,
  type NextEditAnswer,
  OUTCOME_NOTIFICATION,
  type OutcomeParams,
} from './nextEdit';
import { initializationOptions, isEnabled, type Settings } from './settings';
import type { ServerStatus } from './statusText';
import type { Position, Range, WorkspaceEdit } from './textEdits';

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

/** `qwenpair/nextEditReady`: the server has a next edit for the document at this version. */
export interface NextEditReadyParams {
  textDocument: { uri: string; version?: number };
}

/** How the extension sees the suggestions that pass through the language client. */
export interface SuggestionHooks {
  /** The provider's answer at {position}: returns the items VS Code should draw. */
  items(
    document: vscode.TextDocument,
    position: vscode.Position,
    items: vscode.InlineCompletionItem[],
  ): vscode.InlineCompletionItem[];
  /** VS Code accepted a suggestion whole and ran its {command} (already sent to the server). */
  accepted(command: string, args: unknown[]): void;
}

export class QwenpairClient {
  readonly client: LanguageClient;

  constructor(
    settings: Settings,
    output: vscode.LogOutputChannel,
    handlers: CommandHandlers,
    hooks?: SuggestionHooks,
  ) {
    const [command, ...args] = settings.serverCommand;
    const serverOptions: ServerOptions = { command, args, transport: TransportKind.stdio };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [{ scheme: 'file' }, { scheme: 'untitled' }],
      initializationOptions: initializationOptions(settings),
      outputChannel: output,
      middleware: {
        provideInlineCompletionItems: async (document, position, context, token, next) => {
          if (!isEnabled(settings.enable, document.languageId)) {
            return null;
          }
          const result = await next(document, position, context, token);
          if (!result || !hooks) {
            return result;
          }
          if (Array.isArray(result)) {
            return hooks.items(document, position, result);
          }
          result.items = hooks.items(document, position, result.items);
          return result;
        },
        executeCommand: async (command, args, next) => {
          if (command === 'qwenpair.chat') return handlers.chat(args[0]);
          if (command === 'qwenpair.edit') return handlers.edit(args[0]);
          if (hooks && isSuggestionCommand({ command })) {
            const done = await next(command, args);
            hooks.accepted(command, args);
            return done;
          }
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

  /** `qwenpair/nextEdit` at {position} of {uri} (docs/lsp.md, "Next edits"). */
  nextEdit(uri: string, position: Position, token?: vscode.CancellationToken): Promise<NextEditAnswer> {
    return this.client.sendRequest(NEXT_EDIT_REQUEST, { textDocument: { uri }, position }, token);
  }

  /** Runs a suggestion's {command} on the server (an accept the extension applied itself). */
  runSuggestionCommand(command: Command): Promise<unknown> {
    return this.execute(command.command, command.arguments ?? []);
  }

  /** `qwenpair/suggestionOutcome` (docs/lsp.md, "Suggestion outcomes"). */
  outcome(params: OutcomeParams): Promise<void> {
    return this.client.sendNotification(OUTCOME_NOTIFICATION, params);
  }

  /** Calls {handler} for each `qwenpair/nextEditReady` notification. */
  onNextEditReady(handler: (params: NextEditReadyParams) => void): vscode.Disposable {
    return this.client.onNotification(NEXT_EDIT_READY, handler);
  }

  /** The protocol URI of a VS Code document, as the server knows it. */
  uriOf(document: vscode.TextDocument): string {
    return this.client.code2ProtocolConverter.asUri(document.uri);
  }

  /** Calls {handler} for each `qwenpair/chatDelta` notification. */
  onChatDelta(handler: (delta: { streamId: string; text: string }) => void): vscode.Disposable {
    return this.client.onNotification('qwenpair/chatDelta', handler);
  }
}
