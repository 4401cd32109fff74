/**
 * A client subcommand of `qmig` (one that talks to a sidecar over HTTP): parses its arguments,
 * turns every problem into the documented exit code and a one-line message on stderr (never a
 * stack trace), and gives the command a lazily connected SidecarClient.
 */
import type { Subcommand } from './main.js';
import { failureOf, SidecarClient, SidecarUnreachableError, type ApiResponse } from './api-client.js';
import {
  COMMON_OPTIONS,
  flag,
  helpText,
  parseCommandArgs,
  profileSetting,
  resolveConnection,
  stringValue,
  UsageError,
  type OptionTable,
  type PositionalSpec,
  type Values,
} from './args.js';
import { EXIT } from './exit-codes.js';
import { println, printJson, processIo, type Io } from './output.js';
import { choosePresentation, setPresentation } from './presentation.js';

export interface RemoteContext {
  values: Values;
  positionals: string[];
  json: boolean;
  io: Io;
  env: NodeJS.ProcessEnv;
  /** The sidecar client (resolving --url/--user/--password on first use: a UsageError if missing). */
  client(): SidecarClient;
  /** Reports a non-2xx answer (its JSON on stdout with --json, the message on stderr); returns the exit code. */
  fail(res: ApiResponse): number;
  /** A message on stderr, prefixed with the command name. */
  warn(message: string): void;
}

export interface RemoteCommandSpec {
  name: string;
  summary: string;
  /** Arguments after the command name in the usage line, e.g. "[--vhost V|--all]". */
  synopsis: string;
  description: string;
  options: OptionTable;
  positionals?: PositionalSpec;
  run(ctx: RemoteContext): Promise<number>;
}

export interface RemoteCommandDeps {
  io?: Io;
  env?: NodeJS.ProcessEnv;
}

export function remoteCommand(spec: RemoteCommandSpec, deps: RemoteCommandDeps = {}): Subcommand {
  const usage = helpText(spec.name, spec.synopsis, spec.description, spec.options);
  return {
    name: spec.name,
    summary: spec.summary,
    usage,
    options: Object.keys({ ...spec.options, ...COMMON_OPTIONS }).map((n) => `--${n}`),
    async run(args) {
      const io = deps.io ?? processIo;
      const env = deps.env ?? process.env;
      const warn = (message: string) => println(io.stderr, `qmig ${spec.name}: ${message}`);
      try {
        const { values, positionals } = parseCommandArgs(args, spec.options, spec.positionals);
        if (values.help) {
          println(io.stdout, usage);
          return EXIT.ok;
        }
        const json = values.json === true;
        setPresentation(
          choosePresentation({
            tableStyle: profileSetting(values, env, 'table-style', 'table_style'),
            noHeaders: flag(values, 'no-headers'),
            color: stringValue(values, 'color'),
            timeZone: profileSetting(values, env, 'time-zone', 'time_zone'),
            nonInteractive: flag(values, 'non-interactive'),
            isTTY: io.stdout.isTTY === true,
            env,
          }),
        );
        let client: SidecarClient | null = null;
        const ctx: RemoteContext = {
          values,
          positionals,
          json,
          io,
          env,
          warn,
          client() {
            client ??= new SidecarClient(resolveConnection(values, env));
            return client;
          },
          fail(res) {
            const failure = failureOf(res, ctx.client().shownUrl);
            if (json && res.body && typeof res.body === 'object' && Object.keys(res.body).length > 0) printJson(io.stdout, res.body);
            warn(failure.message);
            return failure.exitCode;
          },
        };
        return await spec.run(ctx);
      } catch (err) {
        if (err instanceof UsageError) {
          warn(`${err.message}\n(see: qmig ${spec.name} --help)`);
          return EXIT.usage;
        }
        if (err instanceof SidecarUnreachableError) {
          warn(err.message);
          return EXIT.unreachable;
        }
        warn(`unexpected error: ${(err as Error)?.message ?? String(err)}`);
        return EXIT.failed;
      }
    },
  };
}
