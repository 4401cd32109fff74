/**
 * Progress of a migration or a transfer, per queue:
 * - on a terminal (stdout is a TTY): a frame of progress bars redrawn in place with ANSI
 *   (cursor up + clear), fitted to the terminal width and height;
 * - otherwise (CI logs, pipes): plain lines, one when something changes (overall or per queue).
 * `renderFrame` is pure (tested with a fake width); the views only decide what to write.
 */
import { presentation } from './presentation.js';
import { percent, printable, truncate, type OutStream } from './output.js';

export interface ProgressRow {
  name: string;
  status: string;
  done: number;
  total: number;
  error?: string | null;
}

export interface ProgressFrame {
  /** e.g. "migration / (2025-12-21 10:30:00) on rabbit@node1". */
  title: string;
  /** e.g. "in_progress: 3/10 queues done (30%)". */
  summary: string;
  rows: ProgressRow[];
}

const MIN_BAR = 5;
const MAX_BAR = 40;
/** Rows with these statuses are shown first when the terminal is too short for all. */
const PRIORITY: Record<string, number> = { in_progress: 0, failed: 1, pending: 2 };

/** Percent done of a row; a queue without messages is done only once it completed. */
export function rowPercent(r: ProgressRow): number {
  if (r.total <= 0) return r.status === 'completed' ? 100 : 0;
  return percent(r.done, r.total);
}

function bar(r: ProgressRow, width: number): string {
  const filled = r.total <= 0 ? (r.status === 'completed' ? width : 0) : Math.max(0, Math.min(width, Math.floor((r.done / r.total) * width)));
  return '[' + '#'.repeat(filled) + '.'.repeat(width - filled) + ']';
}

/**
 * The lines of a frame for a terminal `width` columns wide showing at most `height` lines.
 * Every line is at most `width` characters.
 */
export function renderFrame(frame: ProgressFrame, width: number, height = Infinity): string[] {
  width = Math.max(20, Math.floor(width));
  const lines = [truncate(printable(frame.title), width), truncate(printable(frame.summary), width)];
  const room = Math.max(1, Math.floor(height) - lines.length);
  let rows = frame.rows;
  let hidden: ProgressRow[] = [];
  if (rows.length > room) {
    const ranked = rows.map((r, i) => ({ r, i })).sort((a, b) => (PRIORITY[a.r.status] ?? 9) - (PRIORITY[b.r.status] ?? 9) || a.i - b.i);
    const shown = new Set(ranked.slice(0, room - 1).map((x) => x.i));
    hidden = rows.filter((_, i) => !shown.has(i));
    rows = rows.filter((_, i) => shown.has(i));
  }
  if (rows.length > 0) {
    const counts = rows.map((r) => `${r.done}/${r.total}`);
    // Wide enough for done = total: the columns do not shift while the counts grow.
    const countWidth = Math.max(...rows.map((r, i) => Math.max(counts[i].length, 2 * String(r.total).length + 1)));
    const statusWidth = Math.max(...rows.map((r) => r.status.length));
    const longestName = Math.max(...rows.map((r) => printable(r.name).length));
    // name  [bar]  100%  done/total  status   (columns separated by two spaces)
    const fixed = 2 + 4 + 2 + countWidth + 2 + statusWidth;
    // Errors (shown after the status) get up to 30% of the width before the bar takes the rest.
    const errors = rows.map((r) => (r.error ? printable(r.error).length + 2 : 0));
    const errorRoom = Math.min(Math.max(...errors), Math.floor(width * 0.3));
    let nameWidth = Math.min(longestName, Math.max(12, Math.floor(width * 0.35)));
    let barWidth = Math.min(MAX_BAR, width - fixed - nameWidth - 4 - errorRoom);
    if (barWidth < MIN_BAR) {
      nameWidth = Math.min(longestName, Math.max(4, width - fixed - MIN_BAR - 4 - errorRoom));
      barWidth = Math.min(MAX_BAR, width - fixed - nameWidth - 4 - errorRoom);
    }
    if (barWidth < MIN_BAR) nameWidth = Math.min(longestName, Math.max(1, width - fixed));
    rows.forEach((r, i) => {
      const name = truncate(printable(r.name), nameWidth).padEnd(nameWidth);
      const pct = `${rowPercent(r)}%`.padStart(4);
      const parts = [name];
      if (barWidth >= MIN_BAR) parts.push(bar(r, barWidth));
      parts.push(pct, counts[i].padStart(countWidth), r.status);
      let line = parts.join('  ');
      // The error gets what is left of the line; the columns before it are never cut for it.
      const room = width - line.length - 2;
      if (r.error && room >= 2) line += `  ${truncate(printable(r.error), room)}`;
      lines.push(truncate(line, width));
    });
  }
  if (hidden.length > 0) {
    const byStatus = new Map<string, number>();
    for (const r of hidden) byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + 1);
    const detail = [...byStatus].map(([s, n]) => `${n} ${s}`).join(', ');
    lines.push(truncate(`… ${hidden.length} more queue(s): ${detail}`, width));
  }
  return lines;
}

export interface ProgressView {
  update(frame: ProgressFrame): void;
}

/** Redraws the frame in place on a terminal. */
export class TtyProgressView implements ProgressView {
  private drawn = 0;

  constructor(private readonly out: OutStream) {}

  update(frame: ProgressFrame): void {
    // One column less than the terminal: a line of exactly its width would wrap on some terminals.
    const lines = renderFrame(frame, (this.out.columns ?? 80) - 1, (this.out.rows ?? 24) - 1);
    const rewind = this.drawn > 0 ? `\x1b[${this.drawn}A\r\x1b[J` : '';
    this.out.write(rewind + lines.join('\n') + '\n');
    this.drawn = lines.length;
  }
}

/** Plain lines for logs: the overall line and each queue's line when they change. */
export class PlainProgressView implements ProgressView {
  private lastSummary: string | null = null;
  private readonly lastRows = new Map<string, string>();

  constructor(private readonly out: OutStream) {}

  update(frame: ProgressFrame): void {
    if (this.lastSummary === null) this.out.write(printable(frame.title) + '\n');
    for (const r of frame.rows) {
      const line = `  ${printable(r.name)}: ${r.status} ${r.done}/${r.total} (${rowPercent(r)}%)${r.error ? ` - ${printable(r.error)}` : ''}`;
      if (this.lastRows.get(r.name) !== line) {
        this.lastRows.set(r.name, line);
        this.out.write(line + '\n');
      }
    }
    if (this.lastSummary !== frame.summary) {
      this.lastSummary = frame.summary;
      this.out.write(printable(frame.summary) + '\n');
    }
  }
}

export function progressViewFor(out: OutStream): ProgressView {
  // --non-interactive: one line per change even on a terminal.
  return out.isTTY && presentation().redraw ? new TtyProgressView(out) : new PlainProgressView(out);
}
