/**
 * The `qmig` client as an operator used to rabbitmqadmin v2 runs it, as child processes against
 * a live sidecar on the real test cluster: --version and `help CMD`, rollback-pending and
 * rollback-completed, `latest` and unique prefixes as migration handles, named profiles from an
 * INI file (--config/--node), TLS to the sidecar (CA, client certificate, --insecure), --timeout,
 * table styles and --no-headers, time zones, colour only on request or a terminal, and the
 * bash completion script run by bash.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cluster } from '../support/cluster.js';
import { migrationRecord, queueRecords, storeMigration } from '../support/migration-records.js';
import { startTestSidecar, type TestSidecar } from '../support/sidecar.js';
import { makeCertificates, tlsFront } from '../support/tls.js';
import { testVhost } from '../support/vhost.js';
import { assertExit, assertNoSecrets, runCli } from './cli-support.js';

const creds = { QMIG_CLI_USER: cluster.user, QMIG_CLI_PASSWORD: cluster.password };
const ESC = '\x1b[';

function tempDir(t: { after(fn: () => unknown): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'qmig-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

let shared: Promise<{ sidecar: TestSidecar; close(): Promise<void> }> | null = null;
/** One sidecar for the whole file (closed after the last test). */
function sidecar(): Promise<TestSidecar> {
  shared ??= (async () => {
    const afters: Array<() => unknown> = [];
    const s = await startTestSidecar({ after: (fn: () => unknown) => afters.push(fn) });
    return {
      sidecar: s,
      close: async () => {
        for (const fn of afters.reverse()) await fn();
      },
    };
  })();
  return shared.then((x) => x.sidecar);
}
test.after(async () => {
  if (shared) await (await shared).close();
});

test('--version, help CMD, and the usage of the new commands (exit 0)', async () => {
  const version = JSON.parse(readFileSync('package.json', 'utf8')).version as string;
  const v = await runCli(['--version']);
  assertExit(v, 0);
  assert.equal(v.stdout.trim(), `qmig ${version}`);
  const help = await runCli(['help', 'rollback-completed']);
  assertExit(help, 0);
  assert.equal(help.stdout, (await runCli(['rollback-completed', '--help'])).stdout);
  assert.match(help.stdout, /usage: qmig rollback-completed ID \| latest \| PREFIX/);
  assert.match(help.stdout, /--ca-file PEM[\s\S]*--timeout SECONDS[\s\S]*--table-style STYLE/);
  const list = await runCli(['help']);
  assert.match(list.stdout, /rollback-pending[\s\S]*rollback-completed[\s\S]*completion/);
});

test('rollback-pending shows the migration and its snapshots; rollback-completed marks it (latest / prefix handles)', async (t) => {
  const s = await sidecar();
  const env = { ...creds, QMIG_URL: s.url };
  const vhost = await testVhost(t);
  // Started in the future, so that it is both the newest rollback_pending and the `latest` migration.
  const future = new Date(Date.now() + 3_600_000).toISOString().replace('T', ' ').slice(0, 19);
  const pending = await storeMigration(
    t,
    s.ctx,
    migrationRecord(vhost, s.ctx.nodeName, { status: 'rollback_pending', started_at: future, error: 'queue q-00001 failed verification', failed_queues: 1 }),
    queueRecords(vhost, 3),
  );
  const older = await storeMigration(t, s.ctx, migrationRecord(vhost, s.ctx.nodeName, { status: 'completed', started_at: '2020-01-01 00:00:00' }), []);

  const shown = await runCli(['rollback-pending'], env);
  assertExit(shown, 0);
  assert.match(shown.stdout, new RegExp(`migration: +${pending.id}`));
  assert.match(shown.stdout, /status: +rollback_pending/);
  assert.match(shown.stdout, new RegExp(`NODE +SNAPSHOT +VOLUME\\n${s.ctx.nodeName.replace('.', '\\.')} +/var/lib/qmig/snapshots/`));
  const json = await runCli(['rollback-pending', '--json'], env);
  assert.equal(JSON.parse(json.stdout).id, pending.id);

  // A display-id prefix both records share is ambiguous: a usage error naming them, nothing sent.
  const ambiguous = await runCli(['rollback-completed', vhost], env);
  assertExit(ambiguous, 2);
  assert.match(ambiguous.stderr, /matches 2 migrations/);
  // The other one is not rollback_pending: refused (409, exit 1) through a unique id prefix.
  const ids = (await (await s.api('/api/queue-migration/status')).json()).migrations.map((m: { id: string }) => m.id) as string[];
  const prefix = (id: string) => {
    for (let n = 4; n <= id.length; n++) if (ids.filter((x) => x.startsWith(id.slice(0, n))).length === 1) return id.slice(0, n);
    return id;
  };
  const refused = await runCli(['rollback-completed', prefix(older.id)], env);
  assertExit(refused, 1);
  assert.match(refused.stderr, /conflict \(409\)/);

  const status = await runCli(['status', 'latest'], env);
  assertExit(status, 0);
  assert.match(status.stdout, new RegExp(`migration: +${pending.id}`));
  const marked = await runCli(['rollback-completed', 'latest'], env);
  assertExit(marked, 0);
  assert.match(marked.stdout, /marked rollback_completed/);
  assert.equal((await s.ctx.store.loadRecord(pending.id))?.status, 'rollback_completed', 'persisted in the broker');
  const none = await runCli(['rollback-pending', '--json'], env);
  if (none.code === 1) assert.match(none.stdout, /No rollback pending migration found/);
  else assert.notEqual(JSON.parse(none.stdout).id, pending.id, 'ours is no longer rollback_pending');
  assertNoSecrets([shown, ambiguous, refused, status, marked], [cluster.password === 'guest' ? 'Z3Vlc3Q6Z3Vlc3Q' : cluster.password]);
});

test('profiles: --config/--node pick a [section]; flags beat the profile; a missing section is a usage error', async (t) => {
  const s = await sidecar();
  const dir = tempDir(t);
  const file = join(dir, 'qmig.conf');
  writeFileSync(
    file,
    `# qmig profiles\n[default]\nurl = http://127.0.0.1:1\nuser = nobody\npassword = wrong\n\n[t]\nurl = ${s.url}\nusername = ${cluster.user}\npassword = ${cluster.password}\ntable_style = tsv\n`,
  );
  const noEnv = { HOME: dir };
  const ok = await runCli(['status', '--config', file, '--node', 't'], noEnv);
  assertExit(ok, 0);
  assert.match(ok.stdout, /^STATUS\tPROGRESS\tQUEUES/m, 'table_style of the profile');
  // Without --node the [default] section applies (its URL refuses connections: exit 3).
  const fallback = await runCli(['status', '--config', file], noEnv);
  assertExit(fallback, 3);
  assert.match(fallback.stderr, /127\.0\.0\.1:1: connection refused/);
  // ~/.qmig.conf is read when there is no --config.
  writeFileSync(join(dir, '.qmig.conf'), readFileSync(file));
  assertExit(await runCli(['status', '--node', 't'], noEnv), 0);
  // A flag beats the profile.
  const flagged = await runCli(['status', '--config', file, '--node', 't', '--url', 'http://127.0.0.1:1'], noEnv);
  assertExit(flagged, 3);
  const missing = await runCli(['status', '--config', file, '--node', 'prod'], noEnv);
  assertExit(missing, 2);
  assert.match(missing.stderr, /no \[prod\] section in .*qmig\.conf \(sections: default, t\)/);
  writeFileSync(join(dir, 'bad.conf'), '[x]\nurl = http://a\ncolour = red\n');
  const bad = await runCli(['status', '--config', join(dir, 'bad.conf'), '--node', 'x'], noEnv);
  assertExit(bad, 2);
  assert.match(bad.stderr, /bad\.conf:3: unknown key "colour"/);
  assertNoSecrets([ok, fallback, flagged, missing, bad], [cluster.password === 'guest' ? 'Z3Vlc3Q6Z3Vlc3Q' : cluster.password]);
});

test('TLS to the sidecar: --ca-file, a client certificate (mutual TLS), --insecure; a bad file is a usage error', async (t) => {
  const s = await sidecar();
  const dir = tempDir(t);
  const certs = await makeCertificates(dir);
  const https = await tlsFront(t, certs, s.url);
  const mtls = await tlsFront(t, certs, s.url, true);
  const env = { ...creds };

  const untrusted = await runCli(['status', '--url', https], env);
  assertExit(untrusted, 3);
  assert.match(untrusted.stderr, /TLS error/);
  assertExit(await runCli(['status', '--url', https, '--ca-file', certs.ca], env), 0);
  assertExit(await runCli(['status', '--url', https, '--insecure'], env), 0);

  // The terminator refuses the handshake without a client certificate (--timeout bounds the wait).
  const noClientCert = await runCli(['status', '--url', mtls, '--ca-file', certs.ca, '--timeout', '10'], env);
  assertExit(noClientCert, 3);
  assertExit(await runCli(['status', '--url', mtls, '--ca-file', certs.ca, '--cert-file', certs.clientCert, '--key-file', certs.clientKey], env), 0);

  const lonely = await runCli(['status', '--url', mtls, '--cert-file', certs.clientCert], env);
  assertExit(lonely, 2);
  assert.match(lonely.stderr, /--cert-file and --key-file go together/);
  const unreadable = await runCli(['status', '--url', https, '--ca-file', join(dir, 'nope.pem')], env);
  assertExit(unreadable, 2);
  assert.match(unreadable.stderr, /--ca-file: cannot read .*nope\.pem \(ENOENT\)/);
});

test('--timeout: a sidecar that never answers is given up after the timeout (exit 3)', async (t) => {
  const sockets = new Set<Socket>();
  const silent = createServer((socket) => sockets.add(socket));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  t.after(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        silent.close(() => r());
      }),
  );
  const url = `http://127.0.0.1:${(silent.address() as { port: number }).port}`;
  const res = await runCli(['status', '--url', url, '--timeout', '0.5'], creds, 30_000);
  assertExit(res, 3);
  assert.match(res.stderr, /timed out/);
  const bad = await runCli(['status', '--url', url, '--timeout', 'soon'], creds);
  assertExit(bad, 2);
  assert.match(bad.stderr, /--timeout must be a number/);
});

test('table styles, --no-headers, time zones, colour only on request (never in a pipe by default)', async (t) => {
  const s = await sidecar();
  const env = { ...creds, QMIG_URL: s.url };
  const vhost = await testVhost(t);
  const record = await storeMigration(
    t,
    s.ctx,
    migrationRecord(vhost, s.ctx.nodeName, { status: 'completed', started_at: '2026-06-01 12:00:00' }),
    queueRecords(vhost, 3),
  );
  const id = record.id;

  const aligned = await runCli(['status', id], env);
  assertExit(aligned, 0);
  assert.match(aligned.stdout, /^QUEUE +STATUS +MESSAGES/m);
  assert.ok(!aligned.stdout.includes(ESC), 'no colour in a pipe');
  assert.match(aligned.stdout, /started: +2026-06-01 12:00:00/);

  const tsv = await runCli(['status', id, '--table-style', 'tsv', '--no-headers'], env);
  assertExit(tsv, 0);
  const rows = tsv.stdout.split('\n').filter((l) => l.startsWith('q-'));
  assert.equal(rows.length, 3);
  assert.ok(
    rows.every((r) => r.split('\t').length === 7),
    rows.join('\n'),
  );
  assert.doesNotMatch(tsv.stdout, /^QUEUE/m);

  const md = await runCli(['status', id, '--table-style', 'markdown'], env);
  assert.match(md.stdout, /^\| QUEUE \| STATUS \| MESSAGES \| PROGRESS \| STARTED \| COMPLETED \| ERROR \|\n\|( --- \|){7}\n\| q-00000 \| skipped \|/m);
  const plain = await runCli(['status', id, '--non-interactive'], env);
  assert.match(plain.stdout, /^QUEUE STATUS MESSAGES PROGRESS STARTED COMPLETED ERROR$/m);

  const tokyo = await runCli(['status', id, '--time-zone', 'Asia/Tokyo'], env);
  assert.match(tokyo.stdout, /started: +2026-06-01 21:00:00 GMT\+9/);
  const utc = await runCli(['status', id, '--time-zone', 'UTC'], env);
  assert.match(utc.stdout, /started: +2026-06-01 12:00:00 UTC/);
  const badZone = await runCli(['status', id, '--time-zone', 'Mars/Olympus'], env);
  assertExit(badZone, 2);
  assert.match(badZone.stderr, /--time-zone must be UTC, local or an IANA time zone/);

  const colour = await runCli(['status', id, '--color', 'always'], env);
  assert.ok(colour.stdout.includes(`${ESC}32mcompleted${ESC}0m`), 'completed in green');
  assert.match(colour.stdout, /^QUEUE +STATUS {4,}MESSAGES/m, 'columns still aligned on the visible text');
  const noColour = await runCli(['status', id, '--color', 'never'], env);
  assert.ok(!noColour.stdout.includes(ESC));
  const badStyle = await runCli(['status', '--table-style', 'fancy'], env);
  assertExit(badStyle, 2);
  assert.match(badStyle.stderr, /--table-style must be one of aligned, markdown, tsv, plain/);
});

test('bash completion: the script from `qmig completion bash` completes commands, flags and values in bash', async (t) => {
  const dir = tempDir(t);
  const script = await runCli(['completion', 'bash']);
  assertExit(script, 0);
  writeFileSync(join(dir, 'qmig.bash'), script.stdout);
  writeFileSync(join(dir, '.qmig.conf'), '[default]\nurl = http://a\n[prod-eu]\nurl = http://b\n');
  const complete = async (...words: string[]) => {
    const line = `source ${join(dir, 'qmig.bash')}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _qmig; printf '%s\\n' "\${COMPREPLY[@]}"`;
    const { stdout } = await promisify(execFile)('bash', ['-c', line], { env: { PATH: process.env.PATH, HOME: dir } });
    return stdout.split('\n').filter(Boolean).sort();
  };
  assert.deepEqual(await complete('qmig', 'rollback-'), ['rollback-completed', 'rollback-pending']);
  assert.deepEqual(await complete('qmig', 'help', 'xfer-'), ['xfer-cancel', 'xfer-status']);
  assert.deepEqual(await complete('qmig', 'status', '--ti'), ['--time-zone', '--timeout']);
  assert.deepEqual(await complete('qmig', 'check', '--sk'), ['--skip-unsuitable']);
  assert.deepEqual(await complete('qmig', 'status', '--sk'), [], 'status has no --skip-unsuitable');
  assert.deepEqual(await complete('qmig', 'status', '--table-style', ''), ['aligned', 'markdown', 'plain', 'tsv']);
  assert.deepEqual(await complete('qmig', 'status', '--node', 'pr'), ['prod-eu']);
  const { stdout: registered } = await promisify(execFile)('bash', ['-c', `source ${join(dir, 'qmig.bash')}; complete -p qmig`]);
  assert.match(registered, /complete .*-F _qmig qmig/);
  for (const shell of ['zsh', 'fish']) {
    const out = await runCli(['completion', shell]);
    assertExit(out, 0);
    assert.match(out.stdout, /rollback-completed/);
  }
  assertExit(await runCli(['completion', 'powershell']), 2);
});
