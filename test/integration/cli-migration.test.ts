/**
 * `qmig start / watch / status / interrupt` as child processes against a live sidecar on the
 * real test cluster: a small seeded vhost of mirrored classic queues migrated with
 * `start --watch` (NDJSON with --json, plain progress lines otherwise) to completion (exit 0),
 * the status list and detail, interrupt of a finished migration (exit 1 with the 409 reason), a
 * refused start (exit 1), and a migration interrupted while it runs, whose watch ends with exit 1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Context } from '../../src/context.js';
import { MigrationService } from '../../src/migration/migration-service.js';
import { admin } from '../support/cluster.js';
import { messageCount, publish } from '../support/messages.js';
import { assertSchema } from '../support/schemas.js';
import { startTestSidecar } from '../support/sidecar.js';
import { mirrorPolicy, testUser, testVhost } from '../support/vhost.js';
import { classicQueue, cleanupRecords, waitSynchronised } from './migration-support.js';
import { assertExit, assertNoSecrets, jsonLines, runCli, type CliResult } from './cli-support.js';

/**
 * Migration records are cluster-wide and every suite uses its own state vhost, so a start while
 * another suite's migration is active would take that migration over as an orphan: wait until
 * none is active before each start.
 */
async function waitForNoActiveMigration(ctx: Context, timeoutMs = 600_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const active = (await ctx.store.listRecords()).filter((r) => r.status === 'pending' || r.status === 'in_progress');
    if (active.length === 0) return;
    if (Date.now() > deadline) throw new Error(`other migrations stay active: ${active.map((r) => `${r.vhost} (${r.status})`).join(', ')}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

test('qmig start --watch, status, watch, interrupt on a live sidecar', async (t) => {
  const vhost = await testVhost(t, { suffix: '/cli&ü' });
  await mirrorPolicy(vhost);
  const seeded: Array<[string, number]> = [
    ['small', 10],
    ['medium', 20],
    ['large', 30],
  ];
  for (let i = 0; i < seeded.length; i++) await classicQueue(vhost, seeded[i][0], {}, i);
  for (const [name, n] of seeded) await publish(vhost, { queue: name }, n);
  await waitSynchronised(vhost, 180_000);
  // batch_order sorts by the broker's sampled message_bytes: wait until the samples show the
  // published messages, or "smallest first" would compare stale zeros.
  for (let i = 0; ; i++) {
    const sampled = await admin().queues(vhost, ['name', 'messages', 'message_bytes']);
    if (seeded.every(([name, n]) => sampled.find((q) => q.name === name)?.messages === n)) break;
    if (i > 200) throw new Error(`queue statistics never showed the published messages: ${JSON.stringify(sampled)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const caller = await testUser(t, ['administrator'], [vhost]);
  // The lock queue lives in the state vhost: not the migrated one, where it would be judged a queue.
  const stateVhost = await testVhost(t);

  // The engine waits at the first step of a queue while `gate` is armed (for the interrupt below);
  // one queue at a time, so that the second queue is still waiting when the interrupt comes.
  let armed = false;
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  t.after(() => release());
  const sidecar = await startTestSidecar(t, {
    env: { QMIG_RELAXED_CHECKS_WARN_ONLY: 'true', QMIG_STATE_VHOST: stateVhost, QMIG_MIGRATION_CONCURRENCY: '1' },
    engine: (ctx) =>
      new MigrationService(ctx, {
        hooks: {
          beforeStep: async ({ step }) => {
            if (armed && step === 'save') await Promise.race([gate, new Promise((r) => setTimeout(r, 60_000).unref())]);
          },
        },
      }),
  });
  const ids: string[] = [];
  cleanupRecords(
    t,
    () => sidecar.ctx,
    () => ids,
  );
  const env = { QMIG_URL: sidecar.url, QMIG_CLI_USER: caller.user, QMIG_CLI_PASSWORD: caller.password };
  const runs: CliResult[] = [];
  const qmig = async (...args: string[]) => {
    const r = await runCli(args, env);
    runs.push(r);
    return r;
  };

  // 1. One queue (batch of 1, smallest first), followed with --json: one JSON document per line.
  await waitForNoActiveMigration(sidecar.ctx);
  const first = await qmig('start', '--vhost', vhost, '--batch-size', '1', '--watch', '--json', '--interval', '0.3');
  assertExit(first, 0, 'start --batch-size 1 --watch --json');
  const [started, ...updates] = jsonLines(first.stdout) as any[];
  assertSchema('start-response', started);
  ids.push(started.migration_id);
  assert.ok(updates.length >= 1);
  for (const u of updates) assertSchema('status-detail-response', u);
  const last = updates.at(-1);
  assert.equal(last.migration.id, started.migration_id);
  assert.equal(last.migration.status, 'completed');
  assert.deepEqual(
    last.queues.map((q: any) => [q.resource.name, q.status, q.migrated_messages]),
    [['small', 'completed', 10]],
  );
  assert.equal((await admin().queue(vhost, 'small'))?.type, 'quorum');
  assert.equal((await admin().queue(vhost, 'medium'))?.type, 'classic');

  // 2. The rest, followed with plain progress lines (stdout is a pipe, not a terminal).
  await waitForNoActiveMigration(sidecar.ctx);
  const second = await qmig('start', '--vhost', vhost, '--watch', '--interval', '0.3');
  assertExit(second, 0, 'start --watch');
  const id = /^migration started: (\S+)$/m.exec(second.stdout)?.[1];
  assert.ok(id, second.stdout);
  ids.push(id);
  assert.ok(!second.stdout.includes('\x1b['), 'no ANSI sequences when stdout is not a terminal');
  assert.match(second.stdout, /^migration .+ on .+$/m);
  assert.match(second.stdout, /^ {2}medium: completed 20\/20 \(100%\)$/m);
  assert.match(second.stdout, /^ {2}large: completed 30\/30 \(100%\)$/m);
  assert.match(second.stdout, /^completed: 2\/2 queues done \(100%\)$/m);
  assert.match(second.stdout, /^migration .+ ended completed$/m);
  for (const [name, n] of seeded) {
    assert.equal((await admin().queue(vhost, name))?.type, 'quorum', name);
    assert.equal(await messageCount(vhost, name), n, name);
  }

  // 3. status: the list, then one migration with its queues.
  const listJson = await qmig('status', '--json');
  assertExit(listJson, 0);
  const list = JSON.parse(listJson.stdout);
  assertSchema('status-list-response', list);
  assert.equal(list.migrations.find((m: any) => m.id === id)?.status, 'completed');
  const listHuman = await qmig('status');
  assertExit(listHuman, 0);
  assert.match(listHuman.stdout, /^STATUS\s+PROGRESS\s+QUEUES\s+VHOST\s+STARTED\s+COMPLETED\s+ID$/m);
  assert.match(listHuman.stdout, new RegExp(`^completed\\s+100%\\s+2/2\\s+.+${id}$`, 'm'));
  const detailJson = await qmig('status', id, '--json');
  assertExit(detailJson, 0);
  const detail = JSON.parse(detailJson.stdout);
  assertSchema('status-detail-response', detail);
  assert.equal(detail.migration.status, 'completed');
  const detailHuman = await qmig('status', id);
  assertExit(detailHuman, 0);
  assert.match(detailHuman.stdout, new RegExp(`^migration:\\s+${id}$`, 'm'));
  assert.match(detailHuman.stdout, /^status:\s+completed$/m);
  assert.match(detailHuman.stdout, /^QUEUE\s+STATUS\s+MESSAGES\s+PROGRESS\s+STARTED\s+COMPLETED\s+ERROR$/m);
  assert.match(detailHuman.stdout, /^medium\s+completed\s+20\/20\s+100%\s/m);
  assert.match(detailHuman.stdout, /^large\s+completed\s+30\/30\s+100%\s/m);

  // 4. watch of a finished migration ends at once with its exit code.
  const watched = await qmig('watch', id);
  assertExit(watched, 0, 'watch of a completed migration');
  assert.match(watched.stdout, /ended completed$/m);
  const watchedJson = await qmig('watch', id, '--json');
  assertExit(watchedJson, 0);
  const [only] = jsonLines(watchedJson.stdout);
  assertSchema('status-detail-response', only);

  // 5. interrupt of a migration that is not running: the 409 reason, exit 1.
  const late = await qmig('interrupt', id);
  assertExit(late, 1, 'interrupt of a completed migration');
  assert.match(late.stderr, /^qmig interrupt: conflict \(409\): Migration is not running \(status: completed\)$/m);
  const lateJson = await qmig('interrupt', id, '--json');
  assertExit(lateJson, 1);
  const lateBody = JSON.parse(lateJson.stdout);
  assertSchema('error-response', lateBody);
  assert.equal(lateBody.status, 'completed');

  // 6. Unknown migration: 404, exit 1.
  const unknown = await qmig('status', 'bm90LWEtbWlncmF0aW9u');
  assertExit(unknown, 1);
  assert.match(unknown.stderr, /^qmig status: not found \(404\)/m);
  assertExit(await qmig('watch', 'bm90LWEtbWlncmF0aW9u'), 1);

  // 7. Nothing left to migrate: start is refused, exit 1, with the reason.
  await waitForNoActiveMigration(sidecar.ctx);
  const refused = await qmig('start', '--vhost', vhost);
  assertExit(refused, 1, 'start with nothing to migrate');
  assert.match(refused.stderr, /^qmig start: refused \(400\): .+/m);

  // 8. Interrupted while it runs: interrupt exits 0, watch ends interrupted with exit 1, no message lost.
  for (const [name, node] of [
    ['later-1', 0],
    ['later-2', 1],
  ] as const)
    await classicQueue(vhost, name, {}, node);
  await publish(vhost, { queue: 'later-1' }, 15);
  await publish(vhost, { queue: 'later-2' }, 15);
  await waitSynchronised(vhost, 180_000);
  armed = true;
  await waitForNoActiveMigration(sidecar.ctx);
  const third = await qmig('start', '--vhost', vhost, '--queue', 'later-1', '--queue', 'later-2', '--password', caller.password);
  assertExit(third, 0, 'start --queue');
  const id3 = /^migration started: (\S+)$/m.exec(third.stdout)?.[1];
  assert.ok(id3, third.stdout);
  ids.push(id3);
  assert.match(third.stdout, new RegExp(`^follow it with: qmig watch ${id3}$`, 'm'));
  const interrupt = await qmig('interrupt', id3);
  assertExit(interrupt, 0, 'interrupt of a running migration');
  assert.match(interrupt.stdout, new RegExp(`^interrupt requested for migration ${id3}$`, 'm'));
  release();
  const interrupted = await qmig('watch', id3, '--interval', '0.3');
  assertExit(interrupted, 1, 'watch of an interrupted migration');
  assert.match(interrupted.stderr, /^migration .+ ended interrupted$/m);
  const final = JSON.parse((await qmig('status', id3, '--json')).stdout);
  assert.equal(final.migration.status, 'interrupted');
  for (const name of ['later-1', 'later-2']) assert.equal(await messageCount(vhost, name), 15, name);

  assertNoSecrets(runs, [caller.password]);
});
