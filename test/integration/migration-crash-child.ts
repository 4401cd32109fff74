/**
 * A migration engine in its own process, for the crash tests (migration-resume.test.ts): it starts
 * a migration, and stops dead (hangs) at the points named in QMIG_TEST_HANG so that the parent
 * can SIGKILL it exactly there:
 *   QMIG_TEST_HANG='[{"queue":"q1","at":"shovel:to-temporary"},{"queue":"q2","at":"step:declare_quorum"}]'
 * With QMIG_TEST_ROLLBACK_OF=<migration id> it starts the rollback of that migration instead; with
 * QMIG_TEST_VHOSTS='["a","b"]' one run over those vhosts (start-many).
 * It prints one JSON line per event on stdout: {"started": id}, {"hang": queue, "at": point}.
 * Everything else comes from the QMIG_* environment, as for a sidecar; QMIG_TEST_VHOST is the
 * vhost to migrate and QMIG_TEST_NODE the broker node name.
 */
import { loadConfig } from '../../src/config/config.js';
import { createContext } from '../../src/context.js';
import { MigrationService } from '../../src/migration/migration-service.js';
import type { MigrationOptions } from '../../src/state/records.js';

const hangs: Array<{ queue: string; at: string }> = JSON.parse(process.env.QMIG_TEST_HANG ?? '[]');
const say = (o: unknown) => process.stdout.write(JSON.stringify(o) + '\n');
const forever = () => new Promise<never>(() => undefined);

async function hangIf(queue: string, at: string): Promise<void> {
  if (!hangs.some((h) => h.queue === queue && h.at === at)) return;
  say({ hang: queue, at });
  await forever();
}

const ctx = createContext(loadConfig(process.env), process.env.QMIG_TEST_NODE ?? 'unknown');
const service = new MigrationService(ctx, {
  hooks: {
    beforeStep: ({ queue, step }) => hangIf(queue, `step:${step}`),
    onShovelCreated: ({ queue, direction }) => hangIf(queue, `shovel:${direction}`),
  },
});
const options: MigrationOptions = {
  skip_unsuitable_queues: false,
  tolerance: null,
  batch_size: 'all',
  batch_order: 'smallest_first',
  queue_names: null,
  allow_message_ttl: false,
  set_default_queue_type: null,
};
const operator = { user: 'guest', tags: ['administrator'] };
try {
  const rollbackOf = process.env.QMIG_TEST_ROLLBACK_OF;
  const migration = rollbackOf ? await ctx.store.loadRecord(rollbackOf) : null;
  if (rollbackOf && !migration) throw new Error(`no migration ${rollbackOf}`);
  const vhosts: string[] | null = process.env.QMIG_TEST_VHOSTS ? JSON.parse(process.env.QMIG_TEST_VHOSTS) : null;
  const { migration_id } = migration
    ? await service.startRollback(migration, { queue_names: null, tolerance: null, reason: 'crash test' }, operator)
    : vhosts
      ? await service.startMany(vhosts, options, operator)
      : await service.start(process.env.QMIG_TEST_VHOST!, options, operator);
  say({ started: migration_id });
} catch (err) {
  say({ error: (err as Error).message });
  process.exit(1);
}
