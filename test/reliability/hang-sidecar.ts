/**
 * A full sidecar (HTTP API, engine, same wiring as `qmig serve`) in its own process whose engine
 * stops dead (hangs) at the points named in QMIG_TEST_HANG, so that a test can SIGKILL it exactly
 * there (test/reliability/sidecar-kill.test.ts). Test code only: the hooks are the engine's
 * EngineHooks, never set by `qmig serve`.
 *   QMIG_TEST_HANG='[{"at":"point:validating"}, {"at":"point:fence_revoked","nth":1},
 *                    {"at":"step:declare_quorum","queue":"q1"}, {"at":"shovel:to-temporary","queue":"q2"}]'
 * Prints one line per event on stdout, `{"qmig_test_event":{"listening":url}}` and
 * `{"qmig_test_event":{"hang":at,"queue":…}}`; configuration is the QMIG_* environment.
 * Like the in-process test sidecars it neither resumes orphans nor runs housekeeping.
 */
import { loadConfig } from '../../src/config/config.js';
import { setLogLevel } from '../../src/logging.js';
import { MigrationService } from '../../src/migration/migration-service.js';
import { startSidecar } from '../../src/sidecar.js';

interface Hang {
  at: string;
  queue?: string;
  /** Hang at the nth time the point is reached (default 1). */
  nth?: number;
}

const hangs: Hang[] = JSON.parse(process.env.QMIG_TEST_HANG ?? '[]');
const seen = new Map<string, number>();
const say = (event: Record<string, unknown>) => process.stdout.write(JSON.stringify({ qmig_test_event: event }) + '\n');

async function hangIf(at: string, queue?: string): Promise<void> {
  const key = `${at}|${queue ?? ''}`;
  const n = (seen.get(key) ?? 0) + 1;
  seen.set(key, n);
  if (!hangs.some((h) => h.at === at && (h.queue === undefined || h.queue === queue) && (h.nth ?? 1) === n)) return;
  say({ hang: at, queue: queue ?? null });
  await new Promise<never>(() => undefined);
}

const config = loadConfig(process.env);
setLogLevel(config.logLevel);
const sidecar = await startSidecar(config, {
  resumeOrphansAtStart: false,
  housekeeping: false,
  engine: (ctx) =>
    new MigrationService(ctx, {
      hooks: {
        atPoint: ({ point }) => hangIf(`point:${point}`),
        beforeStep: ({ queue, step }) => hangIf(`step:${step}`, queue),
        onShovelCreated: ({ queue, direction }) => hangIf(`shovel:${direction}`, queue),
      },
    }),
});
say({ listening: sidecar.url });
