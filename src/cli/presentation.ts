/**
 * How the client commands present what they print, chosen once per command from its flags,
 * profile and terminal: table style (aligned, markdown, tsv, plain) and headers, colour of
 * statuses (only on a terminal, unless NO_COLOR, --color never or --non-interactive), and the
 * time zone of printed times. The printing functions read the current choice (one command per
 * process), so renderers stay simple functions of the API answer.
 */
import { UsageError } from './args.js';

export const TABLE_STYLES = ['aligned', 'markdown', 'tsv', 'plain'] as const;
export type TableStyle = (typeof TABLE_STYLES)[number];

export interface Presentation {
  tableStyle: TableStyle;
  headers: boolean;
  color: boolean;
  /** IANA zone, 'UTC', or undefined: times as the API gives them (ISO 8601, UTC). */
  timeZone?: string;
  /** Progress drawn in place on a terminal (false: one line per change). */
  redraw: boolean;
}

const DEFAULT: Presentation = { tableStyle: 'aligned', headers: true, color: false, redraw: true };
let current: Presentation = DEFAULT;

export function presentation(): Presentation {
  return current;
}

export function setPresentation(p: Presentation): void {
  current = p;
}

export interface PresentationInput {
  tableStyle?: string;
  noHeaders: boolean;
  color?: string;
  timeZone?: string;
  nonInteractive: boolean;
  isTTY: boolean;
  env: NodeJS.ProcessEnv;
}

/** Validates the choices (a UsageError names the bad one). */
export function choosePresentation(input: PresentationInput): Presentation {
  const style = input.tableStyle ?? (input.nonInteractive ? 'plain' : 'aligned');
  if (!(TABLE_STYLES as readonly string[]).includes(style)) throw new UsageError(`--table-style must be one of ${TABLE_STYLES.join(', ')}, not '${style}'`);
  const when = input.color ?? 'auto';
  if (!['auto', 'always', 'never'].includes(when)) throw new UsageError(`--color must be auto, always or never, not '${when}'`);
  const noColorEnv = input.env.NO_COLOR !== undefined && input.env.NO_COLOR !== '';
  const color = when === 'always' || (when === 'auto' && input.isTTY && !input.nonInteractive && !noColorEnv && input.env.TERM !== 'dumb');
  let timeZone: string | undefined;
  if (input.timeZone !== undefined) {
    timeZone = input.timeZone === 'local' ? Intl.DateTimeFormat().resolvedOptions().timeZone : input.timeZone;
    try {
      new Intl.DateTimeFormat('en', { timeZone });
    } catch {
      throw new UsageError(`--time-zone must be UTC, local or an IANA time zone such as Europe/Paris, not '${input.timeZone}'`);
    }
  }
  return { tableStyle: style as TableStyle, headers: !input.noHeaders, color, timeZone, redraw: !input.nonInteractive };
}

/** An API time ("YYYY-MM-DD HH:MM:SS", which is UTC, or ISO 8601) as a Date (Date alone would read the first as local time). */
export function apiTime(text: string): Date {
  return new Date(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/.test(text) ? `${text.replace(' ', 'T')}Z` : text);
}

/** An API time ("YYYY-MM-DD HH:MM:SS" UTC, or ISO 8601) in the chosen zone as `YYYY-MM-DD HH:MM:SS ZONE`; as is without a zone. */
export function formatTime<T extends string | null | undefined>(iso: T): T | string {
  const zone = current.timeZone;
  if (!iso || !zone) return iso;
  const date = apiTime(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-CA', {
      timeZone: zone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
      timeZoneName: 'short',
    })
      .formatToParts(date)
      .map((p) => [p.type, p.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second} ${parts.timeZoneName}`;
}

const STATUS_COLORS: Record<string, number> = {
  completed: 32,
  passed: 32,
  ready: 32,
  succeeded: 32,
  failed: 31,
  rollback_pending: 31,
  error: 31,
  in_progress: 36,
  pending: 36,
  paused: 33,
  scheduled: 34,
  running: 36,
  interrupted: 33,
  skipped: 33,
  warning: 33,
  cancelled: 33,
  rollback_completed: 33,
};

/** A status word in its colour when colour is on. */
export function colorStatus(status: string): string {
  const code = STATUS_COLORS[status];
  return current.color && code ? `\x1b[${code}m${status}\x1b[0m` : status;
}

/** Length as shown on a terminal (colour sequences take no room). */
export function visibleLength(text: string): number {
  return text.replace(/\x1b\[[0-9;]*m/g, '').length;
}
