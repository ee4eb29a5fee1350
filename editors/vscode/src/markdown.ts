/**
 * Splits a chat answer into prose and fenced code blocks, so that the chat view can give
 * each code block its Insert and Apply buttons. Works on partial (still streaming) text: an
 * unclosed fence is a code block that is still growing. Pure (no VS Code API).
 */

export interface Segment {
  kind: 'text' | 'code';
  text: string;
  /** The fence's info string (language), for code. */
  lang?: string;
}

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([\w+#.-]*)[^\n]*$/;

export function splitCodeBlocks(answer: string): Segment[] {
  const segments: Segment[] = [];
  let prose: string[] = [];
  let code: string[] | null = null;
  let fence = '';
  let lang = '';
  const flushProse = () => {
    if (prose.length > 0 && prose.some((l) => l.trim() !== '')) {
      segments.push({ kind: 'text', text: prose.join('\n') });
    }
    prose = [];
  };
  for (const line of answer.split('\n')) {
    if (code === null) {
      const open = FENCE.exec(line);
      if (open) {
        flushProse();
        code = [];
        fence = open[1];
        lang = open[2];
      } else {
        prose.push(line);
      }
    } else if (line.trim().startsWith(fence) && line.trim().replace(/[`~]/g, '') === '') {
      segments.push({ kind: 'code', text: code.join('\n'), lang });
      code = null;
    } else {
      code.push(line);
    }
  }
  if (code !== null) {
    segments.push({ kind: 'code', text: code.join('\n'), lang });
  }
  flushProse();
  return segments;
}
