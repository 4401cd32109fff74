#!/usr/bin/env node
/**
 * `qmig` — one executable, a small table of subcommands. Add a subcommand by adding a row to
 * COMMANDS (name, one-line summary, run(args) → exit code). `qmig --version`, `qmig help CMD`
 * (= `qmig CMD --help`) and `qmig completion SHELL` work from the same table.
 */
import { readFileSync } from 'node:fs';
import { bluegreenCommand } from './commands/bluegreen.js';
import { checkCommand } from './commands/check.js';
import { planCommand } from './commands/plan.js';
import { interruptCommand } from './commands/interrupt.js';
import { readinessCommand } from './commands/readiness.js';
import { startCommand } from './commands/start.js';
import { statusCommand } from './commands/status.js';
import { watchCommand } from './commands/watch.js';
import { xferCancelCommand } from './commands/xfer-cancel.js';
import { xferStatusCommand } from './commands/xfer-status.js';
import { xferCommand } from './commands/xfer.js';
import { rollbackCompletedCommand, rollbackPendingCommand } from './commands/rollback.js';
import { repairCommand, undoCommand } from './commands/follow-up.js';
import { completionCommand } from './completion.js';
import { configCommand } from './config-command.js';
import { serveCommand } from './serve.js';

export interface Subcommand {
  name: string;
  summary: string;
  usage?: string;
  /** Its flags (`--name`), for shell completion. */
  options?: string[];
  /** Resolves to the process exit code (a long-running command may never resolve). */
  run(args: string[]): Promise<number>;
}

const COMMANDS: Subcommand[] = [
  serveCommand,
  configCommand,
  // Client commands: talk to a sidecar over HTTP (--url/--user/--password, QMIG_URL/QMIG_CLI_USER/QMIG_CLI_PASSWORD).
  checkCommand,
  planCommand,
  startCommand,
  statusCommand,
  watchCommand,
  interruptCommand,
  undoCommand,
  repairCommand,
  readinessCommand,
  xferCommand,
  xferStatusCommand,
  xferCancelCommand,
  bluegreenCommand,
  rollbackPendingCommand,
  rollbackCompletedCommand,
  completionCommand(() => COMMANDS),
];

/** qmig's version (package.json, two levels above src/cli and dist/cli). */
function version(): string {
  try {
    return String((JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown }).version ?? 'unknown');
  } catch {
    return 'unknown';
  }
}

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'usage: qmig <command> [options]',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    '`qmig help COMMAND` shows the options of a command; `qmig --version` the version.',
    'The sidecar is configured by QMIG_* environment variables: `qmig config --markdown` lists them.',
    'Client commands read connection profiles from ~/.qmig.conf (INI; --config, --node).',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === '--version' || name === '-V' || name === 'version') {
    console.log(`qmig ${version()}`);
    return 0;
  }
  if (name === 'help' && args.length > 0) return main([args[0], '--help']);
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    console.error(`qmig: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  if (args.includes('--help') || args.includes('-h')) {
    console.log(command.usage ?? `usage: qmig ${command.name}\n\n${command.summary}`);
    return 0;
  }
  return command.run(args);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Lingering keep-alive sockets must not keep a finished command alive.
    setTimeout(() => process.exit(code), 200).unref();
  },
  (err) => {
    console.error(`qmig: ${(err as Error)?.message ?? err}`);
    process.exitCode = 1;
  },
);
