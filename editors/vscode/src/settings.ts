/**
 * The extension's settings and how they become the server's initializationOptions.
 *
 * Pure (no VS Code API) so that the mapping is unit-tested with node. The keys are the
 * server's (lsp_server/settings.py: model, chat_model, adapter, and the `engine` table's
 * context_tokens and latency_target_s); empty settings are left out so that the server's
 * own defaults apply. Per-language enable stays in the client: the language client simply
 * does not ask for completions in a language that is turned off.
 */

/** The `qwenpair.*` settings, as read from the workspace configuration. */
export interface Settings {
  serverCommand: string[];
  model: string;
  chatModel: string;
  adapter: string;
  contextTokens: number | null;
  latencyTarget: number | null;
  /** Inline completions per language id; "*" covers every language not named. */
  enable: Record<string, boolean>;
  /** Next edits (client side): drawn at all, and asked for this long after an edit (0: not on a pause). */
  nextEdit: { enabled: boolean; pauseMs: number };
}

export const DEFAULTS: Settings = {
  serverCommand: ['qwenpair', 'serve'],
  model: '',
  chatModel: '',
  adapter: '',
  contextTokens: null,
  latencyTarget: null,
  enable: { '*': true, plaintext: false, markdown: false, scminput: false },
  nextEdit: { enabled: true, pauseMs: 800 },
};

/** Reads settings through {get}, falling back to the defaults for missing or ill-typed values. */
export function readSettings(get: (key: string) => unknown): Settings {
  const str = (key: keyof Settings): string => {
    const v = get(key);
    return typeof v === 'string' ? v.trim() : (DEFAULTS[key] as string);
  };
  const num = (key: keyof Settings): number | null => {
    const v = get(key);
    return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : null;
  };
  const cmd = get('serverCommand');
  const enable = get('enable');
  const nextEditOn = get('nextEdit.enabled');
  const pauseMs = get('nextEdit.pauseMs');
  return {
    serverCommand:
      Array.isArray(cmd) && cmd.length > 0 && cmd.every((c) => typeof c === 'string')
        ? (cmd as string[])
        : DEFAULTS.serverCommand,
    model: str('model'),
    chatModel: str('chatModel'),
    adapter: str('adapter'),
    contextTokens: num('contextTokens'),
    latencyTarget: num('latencyTarget'),
    enable:
      enable && typeof enable === 'object' && !Array.isArray(enable)
        ? (enable as Record<string, boolean>)
        : DEFAULTS.enable,
    nextEdit: {
      enabled: typeof nextEditOn === 'boolean' ? nextEditOn : DEFAULTS.nextEdit.enabled,
      pauseMs:
        typeof pauseMs === 'number' && Number.isFinite(pauseMs) && pauseMs >= 0 ? pauseMs : DEFAULTS.nextEdit.pauseMs,
    },
  };
}

/** The settings (under `qwenpair.`) whose change restarts the server; next-edit ones are read live. */
export const RESTART_KEYS = ['serverCommand', 'model', 'chatModel', 'adapter', 'contextTokens', 'latencyTarget', 'enable'];

/** Whether inline completions are on for {languageId}. */
export function isEnabled(enable: Record<string, boolean>, languageId: string): boolean {
  if (languageId in enable) {
    return enable[languageId] === true;
  }
  return enable['*'] !== false;
}

/** The initializationOptions the server gets for {s}. */
export function initializationOptions(s: Settings): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  const engine: Record<string, unknown> = {};
  if (s.model) options.model = s.model;
  if (s.chatModel) options.chat_model = s.chatModel;
  if (s.adapter) options.adapter = s.adapter;
  if (s.contextTokens !== null) engine.context_tokens = s.contextTokens;
  if (s.latencyTarget !== null) engine.latency_target_s = s.latencyTarget;
  if (Object.keys(engine).length > 0) options.engine = engine;
  return options;
}
