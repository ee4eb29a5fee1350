/**
 * The status-bar text for a `qwenpair.status` result: the model, indexing progress and the
 * last completion latency; the tooltip adds today's suggestion figures (docs/lsp.md,
 * "Suggestion outcomes"). Pure (no VS Code API).
 */

export interface ServerStatus {
  model?: string | null;
  chat_model?: string | null;
  adapter?: string | null;
  /** none, loading, ready or failed */
  model_state?: string | null;
  model_problem?: string | null;
  index?: { files?: number; state?: string } | null;
  last_latency_ms?: number | null;
  /** today's suggestion figures, or {enabled: false} */
  suggestions_today?: SuggestionsToday | null;
}

export interface SuggestionsToday {
  enabled?: boolean;
  shown?: number;
  accepted?: number;
  partial?: number;
  acceptance_rate?: number | null;
  retained_rate_30s?: number | null;
}

const percent = (rate: number | null | undefined) => (typeof rate === 'number' ? `${Math.round(rate * 100)}%` : '-');

/** The tooltip's line for today's suggestions. */
export function suggestionsLine(t: SuggestionsToday | null | undefined): string {
  if (!t) {
    return 'suggestions today: -';
  }
  if (t.enabled === false) {
    return 'suggestions today: not recorded (stats off)';
  }
  return (
    `suggestions today: ${t.shown ?? 0} shown, ${t.accepted ?? 0} accepted, ${t.partial ?? 0} partly ` +
    `(acceptance ${percent(t.acceptance_rate)}, retained after 30 s ${percent(t.retained_rate_30s)})`
  );
}

/** The last path component of a model path, or the registry name itself. */
export function modelLabel(model: string | null | undefined): string {
  if (!model) {
    return 'no model';
  }
  return model.split(/[\\/]/).pop()!.replace(/\.gguf$/, '');
}

export function statusText(s: ServerStatus): { text: string; tooltip: string } {
  const parts = [`$(sparkle) ${modelLabel(s.model)}`];
  if (s.model_state === 'loading') {
    parts.push('$(sync~spin) loading model');
  } else if (s.model_state === 'failed') {
    parts.push('$(error) model failed');
  }
  const state = s.index?.state;
  if (state === 'opening' || state === 'indexing') {
    parts.push(`$(sync~spin) indexing ${s.index?.files ?? 0} files`);
  } else if (state === 'failed') {
    parts.push('$(warning) index failed');
  }
  if (typeof s.last_latency_ms === 'number') {
    parts.push(`${Math.round(s.last_latency_ms)} ms`);
  }
  const tooltip = [
    `model: ${s.model ?? '-'} (${s.model_state ?? '-'})${s.model_problem ? `: ${s.model_problem}` : ''}`,
    `chat model: ${s.chat_model ?? '-'}`,
    `adapter: ${s.adapter ?? 'none'}`,
    `index: ${s.index?.files ?? 0} files (${state ?? '-'})`,
    `last latency: ${typeof s.last_latency_ms === 'number' ? `${Math.round(s.last_latency_ms)} ms` : '-'}`,
    suggestionsLine(s.suggestions_today),
  ].join('\n');
  return { text: parts.join('  '), tooltip };
}
