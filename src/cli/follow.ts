/**
 * Following a migration or a transfer until it leaves pending/in_progress: polls one GET,
 * shows progress (TTY bars, plain lines, or one JSON document per change with --json), rides
 * out a few consecutive failures to reach the sidecar (a sidecar restart, a 503 while its broker
 * is away), and stops on Ctrl-C without touching the operation itself.
 */
import { SidecarUnreachableError, failureOf, type ApiResponse } from './api-client.js';
import { EXIT, exitCodeForStatus } from './exit-codes.js';
import { printJson } from './output.js';
import { progressViewFor, type ProgressFrame } from './progress-view.js';
import type { RemoteContext } from './remote-command.js';

export interface FollowOptions<T> {
  path: string;
  intervalMs: number;
  frame(body: T): ProgressFrame;
  active(body: T): boolean;
  /** Printed on stderr when the user stops following with Ctrl-C. */
  stopHint: string;
  /** Consecutive failed polls tolerated before giving up (exit 3). */
  maxFailures?: number;
}

export type FollowResult<T> = { kind: 'finished'; body: T } | { kind: 'exit'; exitCode: number };

export async function follow<T>(ctx: RemoteContext, opts: FollowOptions<T>): Promise<FollowResult<T>> {
  const client = ctx.client();
  const view = ctx.json ? null : progressViewFor(ctx.io.stdout);
  const maxFailures = opts.maxFailures ?? 5;
  let lastJson = '';
  let failures = 0;
  let stopped = false;
  let wake: () => void = () => undefined;
  const onSigint = () => {
    stopped = true;
    wake();
  };
  process.on('SIGINT', onSigint);
  try {
    for (;;) {
      let res: ApiResponse<T> | null = null;
      let problem: string | null = null;
      try {
        res = await client.get<T>(opts.path);
      } catch (err) {
        if (!(err instanceof SidecarUnreachableError)) throw err;
        problem = err.message;
      }
      if (res && res.status >= 200 && res.status < 300) {
        failures = 0;
        const text = JSON.stringify(res.body);
        if (ctx.json) {
          if (text !== lastJson) printJson(ctx.io.stdout, res.body, true);
        } else {
          view!.update(opts.frame(res.body));
        }
        lastJson = text;
        if (!opts.active(res.body)) return { kind: 'finished', body: res.body };
      } else if (res && ![502, 503, 504].includes(res.status)) {
        return { kind: 'exit', exitCode: ctx.fail(res) };
      } else {
        failures++;
        const message = problem ?? failureOf(res!, client.shownUrl).message;
        if (failures > maxFailures) {
          ctx.warn(`giving up after ${failures} failed polls: ${message}`);
          return { kind: 'exit', exitCode: res ? exitCodeForStatus(res.status) : EXIT.unreachable };
        }
        ctx.warn(`${message} (retrying, ${failures}/${maxFailures})`);
      }
      if (!stopped) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, opts.intervalMs);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      if (stopped) {
        ctx.warn(`stopped following: ${opts.stopHint}`);
        return { kind: 'exit', exitCode: EXIT.interrupted };
      }
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
}
