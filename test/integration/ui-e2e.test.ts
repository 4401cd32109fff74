/**
 * The Queue Migration page inside the real RabbitMQ 3.10 management UI, served THROUGH the
 * sidecar, driven by headless Chromium (Debian's /usr/bin/chromium + playwright-core):
 * log in as guest, Admin → Queue Migration, choose the seeded vhost, run the compatibility check,
 * pick the queues and start a migration, watch the progress reach 100 %, find it in the history,
 * open its detail page, and see an API refusal shown as its readable reason; the plugin's deep
 * links (#/queue-migration/status[/ID]), the history sorted by a column and paged, a vhost with
 * nothing to migrate, the detail page titled with the migration's display name.
 * Screenshots go to test-output/ui-e2e-*.png.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { admin } from '../support/cluster.js';
import { messageCount, publish } from '../support/messages.js';
import { assertSchema } from '../support/schemas.js';
import { startTestSidecar } from '../support/sidecar.js';
import { mirrorPolicy, testUser, testVhost } from '../support/vhost.js';
import { migrationRecord, storeMigration } from '../support/migration-records.js';
import { MigrationService } from '../../src/migration/migration-service.js';
import { MigrationStore } from '../../src/state/migration-store.js';
import { classicQueue, waitSynchronised } from './migration-support.js';
import { cleanupTargetVhost, cleanupTransferRecords, targetCluster } from './transfer-support.js';
import { testSeal } from '../support/state-secret.js';

const CHROMIUM = '/usr/bin/chromium';
const OUTPUT = join(process.cwd(), 'test-output');
const QUEUES = [
  { name: 'orders', messages: 3000 },
  { name: 'invoices', messages: 1500 },
  { name: 'emails', messages: 500 },
];

async function launch(): Promise<Browser> {
  assert.ok(
    existsSync(CHROMIUM),
    `${CHROMIUM} is missing: the UI end-to-end test needs Debian's chromium (apt-get install -y chromium; scripts/install-deps.sh installs it)`,
  );
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--headless',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** The migration records of `vhost` (cluster-wide global parameters) are deleted after the test. */
function forgetMigrations(t: { after(fn: () => unknown): void }, vhost: string): void {
  t.after(async () => {
    const store = new MigrationStore(admin(), testSeal());
    for (const r of (await store.listRecords().catch(() => [])).filter((x) => x.vhost === vhost)) await store.delete(r).catch(() => undefined);
  });
}

/** A browser page logged in as guest on the sidecar's management UI, on Admin → Queue Migration. */
async function openPage(t: { after(fn: () => unknown): void }, url: string): Promise<{ page: Page; dialogs: string[]; pageErrors: string[] }> {
  const browser = await launch();
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.setDefaultTimeout(60_000); // the machine is shared with other suites
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  const dialogs: string[] = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.accept();
  });
  await page.goto(url + '/');
  await page.fill('input[name=username]', 'guest');
  await page.fill('input[name=password]', 'guest');
  await page.click('input[type=submit]');
  await page.click('#tabs a:text-is("Admin")');
  await page.click('#rhs a:text-is("Queue Migration")');
  await page.waitForSelector('#qmig-page[data-page=main]');
  return { page, dialogs, pageErrors };
}

/**
 * Clicks "Start migration" and waits (a loaded machine may take a while to run the checks) for
 * the page's answer: the id of the started migration, or the failure with what the page said.
 */
async function clickStart(page: Page): Promise<string> {
  await page.click('#qmig-start-button');
  const outcome = await page.waitForFunction(
    () => {
      const info = document.querySelector('.form-popup-info a[href^="#/queue-migration/migration/"]');
      if (info) return { id: decodeURIComponent(info.getAttribute('href')!.split('/').pop()!), warn: null };
      const warns = Array.from(document.querySelectorAll('.form-popup-warn'))
        .map((e) => e.textContent?.trim() ?? '')
        .filter((x) => x !== '');
      return warns.length > 0 ? { id: null, warn: warns.join(' | ') } : null;
    },
    undefined,
    { timeout: 120_000, polling: 100 },
  );
  const { id, warn } = (await outcome.jsonValue()) as { id: string | null; warn: string | null };
  assert.ok(id, `the page did not start the migration: ${warn}`);
  await page.click('.form-popup-info span:text-is("Close")');
  return id;
}

async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(OUTPUT, { recursive: true });
  await page.evaluate(() => window.scrollTo(0, 0)); // the UI's header is fixed: shoot from the top
  await page.screenshot({ path: join(OUTPUT, `ui-e2e-${name}.png`), fullPage: true });
}

test("GET /api/extensions asks the broker with the caller's credentials; the page's files are served, the rest proxied", async (t) => {
  const sidecar = await startTestSidecar(t);
  const noTags = await testUser(t, []);
  const monitor = await testUser(t, ['monitoring']);

  const ok = await sidecar.api('/api/extensions', { auth: monitor });
  assert.equal(ok.status, 200);
  const list = await ok.json();
  assertSchema('extensions-response', list);
  assert.equal((list as Array<{ javascript: string }>).filter((e) => e.javascript === 'queue-migration.js').length, 1);
  // The broker refuses these callers (the service account would have been let in).
  const refused = await sidecar.api('/api/extensions', { auth: noTags });
  assert.equal(refused.status, 401);
  await refused.arrayBuffer();
  const bad = await sidecar.api('/api/extensions', { auth: { user: 'guest', password: 'wrong' } });
  assert.equal(bad.status, 401);
  assert.deepEqual(await bad.json(), { error: 'not_authorized', reason: 'Login failed' });
  const anonymous = await sidecar.api('/api/extensions', { auth: null });
  assert.equal(anonymous.status, 401);
  await anonymous.arrayBuffer();

  const script = await fetch(sidecar.url + '/js/queue-migration.js');
  assert.equal(script.status, 200);
  assert.match(script.headers.get('content-type') ?? '', /^application\/javascript/);
  assert.match(await script.text(), /NAVIGATION\['Admin'\]\[0\]\['Queue Migration'\]/);
  const tmpl = await fetch(sidecar.url + '/js/tmpl/queue-migration-progress.ejs?' + Math.random());
  assert.equal(tmpl.status, 200);
  assert.match(await tmpl.text(), /qmig_fmt_progress/);
  const missing = await fetch(sidecar.url + '/js/tmpl/queue-migration-nope.ejs');
  assert.equal(missing.status, 404);
  assertSchema('error-response', await missing.json());
  // The UI's own templates still come from the broker.
  const brokers = await fetch(sidecar.url + '/js/tmpl/queues.ejs');
  assert.equal(brokers.status, 200);
  assert.match(await brokers.text(), /<h1>Queues<\/h1>/);
});

test('Admin → Queue Migration: check, start, live progress to 100 %, history and detail, readable errors', { timeout: 300_000 }, async (t) => {
  const vhost = await testVhost(t);
  forgetMigrations(t, vhost);
  await mirrorPolicy(vhost);
  for (const [i, q] of QUEUES.entries()) {
    await classicQueue(vhost, q.name, {}, i % 3);
    await publish(vhost, { queue: q.name }, q.messages);
  }
  await waitSynchronised(vhost, 180_000); // generous: the machine is shared

  // Its own lock vhost: other suites migrate on the same cluster at the same time.
  const sidecar = await startTestSidecar(t, { env: { QMIG_RELAXED_CHECKS_WARN_ONLY: 'true', QMIG_STATE_VHOST: vhost } });

  const browser = await launch();
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.setDefaultTimeout(60_000); // the machine is shared with other suites
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  const dialogs: string[] = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.accept();
  });

  // --- log in through the sidecar ------------------------------------------------------------
  await page.goto(sidecar.url + '/');
  await page.fill('input[name=username]', 'guest');
  await page.fill('input[name=password]', 'guest');
  await page.click('input[type=submit]');
  await page.waitForSelector('#tabs a:text-is("Admin")');

  // The UI loaded qmig's extension from the sidecar's /api/extensions.
  const extensions = await sidecar.api('/api/extensions');
  assert.equal(extensions.status, 200);
  const list = (await extensions.json()) as Array<{ javascript: string }>;
  assertSchema('extensions-response', list);
  assert.ok(list.some((e) => e.javascript === 'queue-migration.js'));
  assert.ok(
    list.some((e) => e.javascript === 'shovel.js'),
    "the broker's own extensions are still there",
  );

  // --- Admin → Queue Migration ---------------------------------------------------------------
  await page.click('#tabs a:text-is("Admin")');
  await page.click('#rhs a:text-is("Queue Migration")');
  await page.waitForSelector('#qmig-page[data-page=main]');
  assert.match(page.url(), /#\/queue-migration$/);
  await page.waitForSelector(`#qmig-vhost option[value="${vhost}"]`, { state: 'attached' });
  await page.selectOption('#qmig-vhost', vhost);
  // The queue picker lists the vhost's mirrored classic queues.
  await page.waitForSelector('#qmig-queue-list tr.qmig-queue-row');
  const pickable = await page.$$eval('#qmig-queue-list tr.qmig-queue-row', (rows) => rows.map((r) => r.getAttribute('data-name')));
  assert.deepEqual([...pickable].sort(), QUEUES.map((q) => q.name).sort());

  // --- compatibility check -------------------------------------------------------------------
  await page.click('#qmig-check-button');
  await page.waitForSelector('#qmig-check-ready');
  assert.match((await page.textContent('#qmig-check-ready')) ?? '', /^ready$/);
  const checks = await page.$$eval('#qmig-system-checks tbody tr', (rows) =>
    rows.map((r) => Array.from(r.querySelectorAll('td')).map((td) => td.textContent?.trim() ?? '')),
  );
  const api = await sidecar.api(`/api/queue-migration/check/${encodeURIComponent(vhost)}`, { method: 'POST' });
  const report = (await api.json()) as { system_checks: { checks: Array<{ check_type: string; status: string; message: string }> } };
  assert.deepEqual(
    checks.map((c) => c[0]),
    report.system_checks.checks.map((c) => c.check_type),
    'every system check of the API is on the page',
  );
  const relaxed = checks.find((c) => c[0] === 'relaxed_checks_setting');
  assert.ok(relaxed && relaxed[1] === 'warning', `relaxed_checks_setting shown as a warning on 3.10 (got ${JSON.stringify(relaxed)})`);
  assert.match((await page.textContent('#qmig-check-result')) ?? '', /No queue has an issue/);
  await shot(page, '1-check');

  // --- start: every queue picked, largest first, tolerance 0 ---------------------------------
  await page.click('#qmig-queue-list button:text-is("Tick shown")');
  assert.match((await page.textContent('#qmig-queue-count')) ?? '', /^3 ticked$/);
  await page.fill('#qmig-tolerance', '0');
  await page.selectOption('#qmig-batch-order', 'largest_first');
  // --- plan with the form's options (the first plan runs the calibration probe) ---------------
  await page.click('#qmig-plan-button');
  await page.waitForSelector('#qmig-plan-total', { timeout: 120_000 });
  assert.match((await page.textContent('#qmig-plan-total')) ?? '', /Estimated duration: [0-9.]+ s \(range [0-9.]+-[0-9.]+ s, 3 queue\(s\)/);
  const planned = await page.$$eval('#qmig-plan-queues tbody tr', (rows) => rows.map((r) => r.querySelectorAll('td')[1]?.textContent ?? ''));
  assert.deepEqual([...planned].sort(), QUEUES.map((q) => q.name).sort(), 'the plan lists the picked queues');
  await shot(page, '1b-plan');
  const id = await clickStart(page);
  assert.ok(
    dialogs.some((d) => d.includes(`virtual host "${vhost}"`) && d.includes('3 picked queue(s)')),
    `confirmation asked: ${JSON.stringify(dialogs)}`,
  );
  const status = (await (await sidecar.api('/api/queue-migration/status')).json()) as { migrations: Array<{ id: string; vhost: string }> };
  assert.equal(status.migrations.find((m) => m.id === id)?.vhost, vhost, 'the API knows the migration the page started');

  // --- live progress until 100 % -------------------------------------------------------------
  const shown = `#qmig-running .qmig-migration[data-id="${id}"]`;
  await page.waitForSelector(shown, { timeout: 60_000 });
  const seen: string[] = [];
  let midShot = false;
  for (const deadline = Date.now() + 180_000; ;) {
    const state = await page.$eval(shown, (el) => `${el.getAttribute('data-status')} ${el.getAttribute('data-progress')}`).catch(() => 'gone');
    if (seen[seen.length - 1] !== state) seen.push(state);
    if (!midShot && state.startsWith('in_progress')) {
      await shot(page, '2-progress');
      midShot = true;
    }
    if (state.startsWith('completed') || state.startsWith('failed') || state.startsWith('rollback_pending')) break;
    assert.ok(Date.now() < deadline, `the page did not show the end of the migration: ${seen.join(' → ')}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  t.diagnostic(`states shown: ${seen.join(' → ')}`);
  assert.equal(seen[seen.length - 1], 'completed 100', `final state on the page: ${seen.join(' → ')}`);
  assert.equal(await page.getAttribute(`${shown} #qmig-overall-progress .qmig-progress`, 'data-pct'), '100');
  assert.match((await page.textContent(`${shown} #qmig-overall-progress`)) ?? '', /100 %/);
  const queueRows = await page.$$eval(`${shown} table.qmig-queues tbody tr`, (rows) =>
    rows.map((r) => `${r.getAttribute('data-queue')}:${r.getAttribute('data-status')}`),
  );
  assert.deepEqual(queueRows.sort(), QUEUES.map((q) => `${q.name}:completed`).sort());
  await shot(page, '3-completed');

  // The broker agrees: quorum queues, every message there.
  for (const q of QUEUES) {
    const info = await admin().queue(vhost, q.name);
    assert.equal(info?.type, 'quorum', `${q.name} is a quorum queue`);
    assert.equal(await messageCount(vhost, q.name), q.messages, `${q.name} kept its messages`);
  }

  // --- history -------------------------------------------------------------------------------
  const historyRow = `#qmig-history-table tr[data-id="${id}"]`;
  await page.waitForSelector(`${historyRow}[data-status=completed]`);
  assert.match((await page.textContent(historyRow)) ?? '', /3 done, 0 skipped, 0 failed \/ 3/);
  await shot(page, '4-history');

  // --- detail page ---------------------------------------------------------------------------
  await page.click(`${historyRow} a`);
  await page.waitForSelector('#qmig-page[data-page=migration]');
  await page.waitForSelector(`#qmig-detail .qmig-migration[data-id="${id}"]`);
  const detailText = (await page.textContent('#qmig-detail')) ?? '';
  assert.match(detailText, /No snapshot was taken/);
  assert.ok(detailText.includes(id!), 'the detail shows the id');
  const detailRows = await page.$$eval('#qmig-detail table.qmig-queues tbody tr', (rows) => rows.map((r) => r.getAttribute('data-status')));
  assert.deepEqual(detailRows, ['completed', 'completed', 'completed']);
  await shot(page, '5-detail');

  // --- an API refusal is shown as its reason, not as JSON ------------------------------------
  // Every queue is quorum now: Start is disabled ("nothing to migrate") until a mirrored classic
  // queue appears again.
  await classicQueue(vhost, 'late-arrival', {}, 0);
  // The page lists the queues once, from the broker's queue statistics: wait until they show the
  // new queue as mirrored (a node that lost its statistics agent is repaired there).
  await waitSynchronised(vhost, 180_000);
  await page.click('a:text-is("« Queue Migration")');
  await page.waitForSelector('#qmig-page[data-page=main]');
  await page.waitForSelector(`#qmig-vhost option[value="${vhost}"]`, { state: 'attached' });
  await page.selectOption('#qmig-vhost', vhost);
  await page.waitForSelector('#qmig-queue-list tr.qmig-queue-row[data-name="late-arrival"]');
  await page.fill('#qmig-tolerance', '150');
  await page.click('#qmig-start-button');
  await page.waitForSelector('.form-popup-warn');
  await page.waitForFunction(() => getComputedStyle(document.querySelector('.form-popup-warn')!).opacity === '1');
  const warning = (await page.textContent('.form-popup-warn')) ?? '';
  assert.match(warning, /The migration was not started: tolerance must be a number between 0 and 100/);
  assert.ok(!warning.includes('{'), `no raw JSON in the message: ${warning}`);
  await shot(page, '6-error');

  // --- transfers section renders (list from /api/queue-migration/xfer) -----------------------
  await page.waitForFunction(() => !/Loading/.test(document.getElementById('qmig-transfers')?.textContent ?? 'Loading'));
  assert.doesNotMatch((await page.textContent('#qmig-transfers')) ?? '', /Cannot read/);

  assert.deepEqual(pageErrors, [], 'no JavaScript error on the page');
});

test('interrupt with confirmation from the page; a transfer in the list and its detail', { timeout: 300_000 }, async (t) => {
  const vhost = await testVhost(t);
  forgetMigrations(t, vhost);
  await mirrorPolicy(vhost);
  const names = ['q1', 'q2', 'q3', 'q4'];
  for (const [i, name] of names.entries()) {
    await classicQueue(vhost, name, {}, i % 3);
    await publish(vhost, { queue: name }, 200);
  }
  await waitSynchronised(vhost, 180_000); // generous: the machine is shared

  // One queue at a time; the first one waits in its first step until the test lets it go.
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let held: string | null = null;
  const sidecar = await startTestSidecar(t, {
    env: { QMIG_RELAXED_CHECKS_WARN_ONLY: 'true', QMIG_STATE_VHOST: vhost, QMIG_MIGRATION_CONCURRENCY: '1' },
    engine: (ctx) =>
      new MigrationService(ctx, {
        hooks: {
          async beforeStep({ queue, step }) {
            if (step !== 'save' || (held !== null && held !== queue)) return;
            held = queue;
            await gate;
          },
        },
      }),
  });
  const { page, dialogs, pageErrors } = await openPage(t, sidecar.url);
  await page.waitForSelector(`#qmig-vhost option[value="${vhost}"]`, { state: 'attached' });
  await page.selectOption('#qmig-vhost', vhost);
  await page.waitForSelector('#qmig-queue-list tr.qmig-queue-row');
  const id = await clickStart(page);
  try {
    const shown = `#qmig-running .qmig-migration[data-id="${id}"][data-status=in_progress]`;
    await page.waitForSelector(`${shown} button.qmig-interrupt`, { timeout: 60_000 });
    await page.waitForSelector(`${shown} table.qmig-queues tr[data-status=in_progress]`, { timeout: 60_000 });
    await shot(page, '7-before-interrupt');

    await page.click(`${shown} button.qmig-interrupt`);
    assert.match(dialogs[dialogs.length - 1], /Interrupt this migration\?/);
    await page.waitForSelector('.form-popup-info:has-text("Interrupt requested")', { timeout: 60_000 });
    release();

    const done = `#qmig-running .qmig-migration[data-id="${id}"][data-status=interrupted]`;
    await page.waitForSelector(done, { timeout: 120_000 });
    const rows = await page.$$eval(`${done} table.qmig-queues tbody tr`, (trs) => trs.map((r) => r.getAttribute('data-status')));
    assert.deepEqual([...rows].sort(), ['completed', 'skipped', 'skipped', 'skipped'], 'the queue in flight finished, the others were skipped');
    assert.ok(!(await page.$(`${done} button.qmig-interrupt`)), 'no interrupt button once it ended');
    const api = (await (await sidecar.api(`/api/queue-migration/status/${id}`)).json()) as { migration: { status: string } };
    assert.equal(api.migration.status, 'interrupted');
    await page.click('.form-popup-info span:text-is("Close")').catch(() => undefined);
    await shot(page, '8-interrupted');

    // Undo from the page: a rollback (with its own confirmation) takes the migrated queue back.
    const migratedQueue = (
      await page.$$eval(`${done} table.qmig-queues tbody tr[data-status=completed]`, (trs) => trs.map((r) => r.getAttribute('data-queue')))
    )[0];
    await page.click(`${done} button.qmig-undo`);
    assert.match(dialogs[dialogs.length - 1], /Roll this migration back\?/);
    await page.waitForSelector('.form-popup-info:has-text("Rollback started")', { timeout: 60_000 });
    const linked = (await (await sidecar.api(`/api/queue-migration/status/${id}`)).json()) as { migration: { rollbacks?: string[] } };
    const rid = linked.migration.rollbacks?.[0];
    assert.ok(rid, JSON.stringify(linked));
    const rolledBack = `#qmig-running .qmig-migration[data-id="${rid}"][data-status=completed]`;
    await page.waitForSelector(rolledBack, { timeout: 120_000 });
    assert.match((await page.textContent(rolledBack)) ?? '', /Rollback of/);
    if (migratedQueue) assert.equal((await admin().queue(vhost, migratedQueue))?.type, 'classic', 'the migrated queue is classic again');
    await (sidecar.engine as MigrationService).whenFinished(rid!);
    await shot(page, '8b-rolled-back');
  } finally {
    // Never leave a held run behind: a sidecar closing under it would leave an active record.
    release();
    await (sidecar.engine as MigrationService).whenFinished(id);
  }

  // --- a transfer of another vhost's queue to the target cluster -----------------------------
  const xvhost = await testVhost(t);
  cleanupTargetVhost(t, xvhost);
  cleanupTransferRecords(t, xvhost);
  await admin().declareQueue(xvhost, 'to-move', { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  await publish(xvhost, { queue: 'to-move' }, 50);
  const started = await sidecar.api('/api/queue-migration/xfer', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      target: targetCluster.managementUrl,
      target_user: targetCluster.user,
      target_password: targetCluster.password,
      reason: 'ui test',
      vhost: xvhost,
      queue_names: ['to-move'],
    }),
  });
  assert.equal(started.status, 202);
  const { transfer_id: xid } = (await started.json()) as { transfer_id: string };
  const row = `#qmig-transfers-table tr[data-id="${xid}"][data-status=completed]`;
  await page.waitForSelector(row, { timeout: 120_000 });
  assert.match((await page.textContent(row)) ?? '', /50 \/ 50/);
  await page.click(`${row} a`);
  await page.waitForSelector('#qmig-page[data-page=transfer]');
  await page.waitForSelector(`#qmig-detail .qmig-transfer[data-id="${xid}"]`);
  const queueRow = '#qmig-detail tr[data-queue="to-move"]';
  assert.match((await page.textContent(queueRow)) ?? '', /completed/);
  assert.match((await page.textContent(queueRow)) ?? '', /50 \/ 50/);
  assert.match((await page.textContent('#qmig-detail')) ?? '', /ui test/);
  assert.ok(!((await page.textContent('#qmig-detail')) ?? '').includes(targetCluster.password + '@'), 'no credentials shown');
  await shot(page, '9-transfer');

  assert.deepEqual(pageErrors, [], 'no JavaScript error on the page');
});

test("the plugin's deep links, history sorted and paged, nothing to migrate, the detail titled with the display name", { timeout: 300_000 }, async (t) => {
  const sidecar = await startTestSidecar(t, { env: { QMIG_RELAXED_CHECKS_WARN_ONLY: 'true' } });
  const vhost = await testVhost(t);
  const empty = await testVhost(t);
  // 22 finished migrations of 2025 (older than any other on the cluster), varied progress and status.
  const statuses = ['completed', 'failed', 'interrupted', 'rollback_completed'] as const;
  const stored = [];
  for (let i = 0; i < 22; i++) {
    const started = `2025-01-01 00:${String(i).padStart(2, '0')}:00`;
    const status = statuses[i % statuses.length];
    const completed = (i * 7) % 11;
    stored.push(
      await storeMigration(
        t,
        sidecar.ctx,
        migrationRecord(vhost, sidecar.ctx.nodeName, {
          status,
          started_at: started,
          total_queues: 10,
          completed_queues: Math.min(completed, 10),
          skipped_queues: 0,
          failed_queues: 0,
        }),
        [],
      ),
    );
  }
  const ours = new Set(stored.map((r) => r.id));
  const oldest = stored[0];
  const { page, pageErrors } = await openPage(t, sidecar.url);

  // --- history: paged (20 a page), newest first ----------------------------------------------
  const pager = '#qmig-history-pager';
  await page.waitForSelector(pager);
  const pages = Number(await page.getAttribute(pager, 'data-pages'));
  assert.ok(pages >= 2, `at least 22 migrations give 2 pages (got ${pages})`);
  assert.equal(await page.$$eval('#qmig-history-table tbody tr', (rows) => rows.length), 20);
  assert.equal(await page.$(`#qmig-history-table tr[data-id="${oldest.id}"]`), null, 'the oldest migration is not on the first page');
  for (let p = 1; p < pages; p++) {
    await page.click(`${pager} button.qmig-page-next`);
    await page.waitForSelector(`${pager}[data-page="${p + 1}"]`);
  }
  await page.waitForSelector(`#qmig-history-table tr[data-id="${oldest.id}"]`);
  assert.match((await page.textContent(pager)) ?? '', new RegExp(`Page ${pages} of ${pages}`));
  await shot(page, '10-history-last-page');

  // --- sorted by a column: click its header; again: the other way ------------------------------
  const column = async (selector: string) =>
    page.$$eval(
      '#qmig-history-table tbody tr',
      (rows, sel) =>
        rows.map((r) => ({ id: r.getAttribute('data-id')!, v: r.querySelector(sel as string)?.getAttribute('data-pct') ?? r.children[5].textContent!.trim() })),
      selector,
    );
  await page.click('#qmig-history-table a.qmig-sort[data-sort=progress_percentage]');
  await page.waitForSelector(`${pager}[data-page="1"]`);
  let rows = await column('.qmig-progress');
  const pct = rows.map((r) => Number(r.v));
  assert.deepEqual(
    pct,
    [...pct].sort((a, b) => b - a),
    `highest progress first: ${pct.join(',')}`,
  );
  assert.match((await page.textContent('#qmig-history-table a.qmig-sort[data-sort=progress_percentage]')) ?? '', /▼/);
  await page.click('#qmig-history-table a.qmig-sort[data-sort=progress_percentage]');
  await page.waitForFunction(() => /▲/.test(document.querySelector('#qmig-history-table a.qmig-sort[data-sort=progress_percentage]')?.textContent ?? ''));
  rows = await column('.qmig-progress');
  const asc = rows.map((r) => Number(r.v));
  assert.deepEqual(
    asc,
    [...asc].sort((a, b) => a - b),
    `lowest progress first: ${asc.join(',')}`,
  );
  await page.click('#qmig-history-table a.qmig-sort[data-sort=started_at]');
  await page.click('#qmig-history-table a.qmig-sort[data-sort=started_at]'); // oldest first
  await page.waitForFunction(() => /▲/.test(document.querySelector('#qmig-history-table a.qmig-sort[data-sort=started_at]')?.textContent ?? ''));
  rows = await column('.none');
  assert.equal(rows[0].id, oldest.id, 'oldest first');
  assert.deepEqual(
    rows.filter((r) => ours.has(r.id)).map((r) => r.v),
    stored.slice(0, rows.filter((r) => ours.has(r.id)).length).map((r) => r.started_at),
  );
  await shot(page, '11-history-sorted');

  // --- nothing to migrate: grey, Start disabled; the API answer stays the plugin's ------------
  await page.waitForSelector(`#qmig-vhost option[value="${empty}"]`, { state: 'attached' });
  await page.selectOption('#qmig-vhost', empty);
  await page.waitForSelector('#qmig-start-note .qmig-nothing');
  assert.equal(await page.isDisabled('#qmig-start-button'), true, 'Start is disabled');
  await page.click('#qmig-check-button');
  await page.waitForSelector('#qmig-check-ready');
  assert.equal((await page.textContent('#qmig-check-ready'))?.trim(), 'nothing to migrate');
  const answer = (await (await sidecar.api(`/api/queue-migration/check/${encodeURIComponent(empty)}`, { method: 'POST' })).json()) as {
    queue_checks: { summary: { total_queues: number } };
  };
  assertSchema('check-response', answer);
  assert.equal(answer.queue_checks.summary.total_queues, 0);
  await shot(page, '12-nothing-to-migrate');

  // --- the plugin's deep links -----------------------------------------------------------------
  const target = stored[5];
  await page.goto(`${sidecar.url}/#/queue-migration/status/${encodeURIComponent(target.id)}`);
  await page.waitForSelector(`#qmig-page[data-page=migration] #qmig-detail .qmig-migration[data-id="${target.id}"]`);
  assert.equal((await page.textContent('#qmig-title'))?.trim(), `Queue Migration: ${target.display_id}`, 'the title is the display name');
  await shot(page, '13-deep-link-detail');
  await page.goto(`${sidecar.url}/#/queue-migration/status`);
  await page.waitForSelector('#qmig-page[data-page=main]');
  assert.match(page.url(), /#\/queue-migration\/status$/);
  await page.goto(`${sidecar.url}/#/queue-migration/migration/${encodeURIComponent(target.id)}`);
  await page.waitForFunction((name) => document.getElementById('qmig-title')?.textContent === `Queue Migration: ${name}`, target.display_id);

  assert.deepEqual(pageErrors, [], 'no JavaScript error on the page');
});
