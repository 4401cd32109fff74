/**
 * Where the client commands write, and the plain-text shapes they write: aligned tables,
 * percentages, JSON. `Io` is the process's stdout/stderr by default; tests pass fakes.
 */

import { presentation, visibleLength } from './presentation.js';

export interface OutStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
  rows?: number;
}

export interface Io {
  stdout: OutStream;
  stderr: OutStream;
}

export const processIo: Io = { stdout: process.stdout, stderr: process.stderr };

export function println(stream: OutStream, text = ''): void {
  stream.write(text + '\n');
}

/** The API's JSON as is: pretty for a single answer, one line per document when `compact`. */
export function printJson(stream: OutStream, value: unknown, compact = false): void {
  stream.write((compact ? JSON.stringify(value) : JSON.stringify(value, null, 2)) + '\n');
}

/**
 * A table in the chosen style (presentation.ts): `aligned` left-aligned columns separated by two
 * spaces (the last column never padded), `markdown`, `tsv` (tabs and newlines in cells become
 * spaces), `plain` (one space between cells); without the header line when headers are off.
 */
export function table(headers: string[], rows: Array<Array<string | number | null | undefined>>): string {
  const { tableStyle, headers: withHeaders } = presentation();
  const body = rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))));
  const cells = withHeaders ? [headers, ...body] : body;
  if (tableStyle === 'tsv') return cells.map((r) => r.map((c) => c.replace(/[\t\r\n]/g, ' ')).join('\t')).join('\n');
  if (tableStyle === 'plain') return cells.map((r) => r.join(' ')).join('\n');
  if (tableStyle === 'markdown') {
    const line = (r: string[]) => `| ${r.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
    return [line(headers), `|${headers.map(() => ' --- ').join('|')}|`, ...body.map(line)].slice(withHeaders ? 0 : 2).join('\n');
  }
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => visibleLength(r[i] ?? ''))));
  return cells
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c + ' '.repeat(Math.max(0, widths[i] - visibleLength(c)))))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function percent(done: number, total: number): number {
  if (total <= 0) return 100;
  return Math.max(0, Math.min(100, Math.floor((done / total) * 100)));
}

/** `text` cut to `width` characters, ending with an ellipsis when cut. */
export function truncate(text: string, width: number): string {
  if (width <= 0) return '';
  if (text.length <= width) return text;
  return width === 1 ? '…' : text.slice(0, width - 1) + '…';
}

/** One line, printable: control characters (names come from the broker) become '?'. */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}
