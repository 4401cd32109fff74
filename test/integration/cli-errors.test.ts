/**
 * The exit codes CI jobs rely on, with `qmig` client commands as child processes: 0 for help,
 * 2 for every usage error (the message names the flag, no stack trace), 3 when the sidecar cannot
 * be reached or the caller cannot authenticate or is not allowed (connection refused, 401, 403,
 * 503, an answer that is not a sidecar's), and credentials never printed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { assertSchema } from '../support/schemas.js';
import { freePort, startTestSidecar } from '../support/sidecar.js';
import { testUser } from '../support/vhost.js';
import { assertExit, assertNoSecrets, runCli, type CliResult } from './cli-support.js';

const CLIENT_COMMANDS = ['check', 'start', 'status', 'watch', 'interrupt', 'xfer', 'xfer-status', 'xfer-cancel'];

test('help: qmig help lists the client commands, --help of each shows its options (exit 0)', async () => {
  const help = await runCli(['help']);
  assertExit(help, 0);
  for (const name of CLIENT_COMMANDS) assert.match(help.stdout, new RegExp(`^ {2}${name}\\s+\\S`, 'm'), name);
  const each = await Promise.all(CLIENT_COMMANDS.map((name) => runCli([name, '--help'])));
  each.forEach((r, i) => {
    assertExit(r, 0, `${CLIENT_COMMANDS[i]} --help`);
    assert.match(r.stdout, new RegExp(`^usage: qmig ${CLIENT_COMMANDS[i]}\\b`, 'm'));
    assert.match(r.stdout, /--url URL\s+sidecar URL \(env QMIG_URL/);
    assert.match(r.stdout, /^exit codes: 0 ready\/succeeded, 1 not ready\/refused\/failed, 2 usage error, 3 cannot reach or authenticate$/m);
  });
});

test('usage errors exit 2 and name the flag, before anything is sent', async () => {
  // Nothing listens at this URL: a usage error must win over "cannot reach" (3).
  const env = { QMIG_URL: `http://127.0.0.1:${await freePort()}`, QMIG_CLI_USER: 'someone', QMIG_CLI_PASSWORD: 'Usage-Secret-991' };
  const cases: Array<[string[], RegExp]> = [
    [['check', '--bogus'], /^qmig check: Unknown option '--bogus'/m],
    [['check', '--vhost'], /^qmig check: Option '--vhost <value>' argument missing/m],
    [['check', '--vhost', 'a', '--all'], /^qmig check: --vhost and --all exclude each other/m],
    [['start', '--batch-size', 'ten'], /^qmig start: --batch-size must be an integer >= 0 or "all", not 'ten'/m],
    [['start', '--tolerance', '101'], /^qmig start: --tolerance must be a number between 0 and 100, not '101'/m],
    [['start', '--batch-order', 'random'], /^qmig start: --batch-order must be one of smallest_first, largest_first, not 'random'/m],
    [['start', '--watch', '--interval', 'soon'], /^qmig start: --interval must be a number between 0.1 and 3600, not 'soon'/m],
    [['start', '--watch=yes'], /^qmig start: Option '--watch' does not take an argument/m],
    [['watch'], /^qmig watch: missing ID/m],
    [['interrupt', 'a', 'b'], /^qmig interrupt: unexpected argument 'b'/m],
    [['status', '--json', 'x', 'y'], /^qmig status: unexpected argument 'y'/m],
    [['xfer-cancel'], /^qmig xfer-cancel: missing ID/m],
    [['xfer', '--target', 'http://t', '--target-user', 'u', '--reason', 'r'], /^qmig xfer: the target password is required/m],
    [['frobnicate'], /^qmig: unknown command 'frobnicate'/m],
  ];
  const results = await Promise.all(cases.map(([args]) => runCli(args, env)));
  results.forEach((r, i) => {
    assertExit(r, 2, cases[i][0].join(' '));
    assert.match(r.stderr, cases[i][1]);
  });
  // No credentials at all (the sidecar's own QMIG_USER/QMIG_PASSWORD are not the caller's).
  const noUser = await runCli(['status'], { QMIG_URL: env.QMIG_URL, QMIG_USER: 'guest', QMIG_PASSWORD: 'guest' });
  assertExit(noUser, 2);
  assert.match(noUser.stderr, /^qmig status: no user: give --user or set QMIG_CLI_USER/m);
  const badUrl = await runCli(['status', '--url', 'ftp://host'], env);
  assertExit(badUrl, 2);
  assert.match(badUrl.stderr, /--url must be an http:\/\/ or https:\/\/ URL/);
  const credsInUrl = await runCli(['status', '--url', 'http://bob:Url-Secret-552@127.0.0.1:1'], env);
  assertExit(credsInUrl, 2);
  assert.match(credsInUrl.stderr, /--url must not contain credentials/);
  assertNoSecrets([...results, noUser, badUrl, credsInUrl], ['Usage-Secret-991', 'Url-Secret-552']);
});

test('cannot reach or authenticate: connection refused, 401, 403, 503, not a sidecar → exit 3', async (t) => {
  const runs: CliResult[] = [];
  const qmig = async (args: string[], env: Record<string, string>) => {
    const r = await runCli(args, env);
    runs.push(r);
    return r;
  };
  const port = await freePort();
  const refused = await qmig(['check', '--vhost', '/'], {
    QMIG_URL: `http://127.0.0.1:${port}`,
    QMIG_CLI_USER: 'guest',
    QMIG_CLI_PASSWORD: 'Refused-Secret-1',
  });
  assertExit(refused, 3, 'nothing listening');
  assert.match(refused.stderr, new RegExp(`^qmig check: cannot reach the sidecar at http://127\\.0\\.0\\.1:${port}: connection refused$`, 'm'));

  const sidecar = await startTestSidecar(t);
  const wrong = 'Wrong-Password-7781';
  const unauthorized = await qmig(['status', '--json'], { QMIG_URL: sidecar.url, QMIG_CLI_USER: 'guest', QMIG_CLI_PASSWORD: wrong });
  assertExit(unauthorized, 3, 'bad credentials');
  assert.match(
    unauthorized.stderr,
    /^qmig status: authentication failed at http:\/\/127\.0\.0\.1:\d+ \(401\): check --user\/--password or QMIG_CLI_USER\/QMIG_CLI_PASSWORD$/m,
  );
  assertSchema('error-response', JSON.parse(unauthorized.stdout));
  const viaFlag = await qmig(['watch', 'abc', '--user', 'guest', '--password', wrong, '--url', sidecar.url], {});
  assertExit(viaFlag, 3, 'bad credentials given as flags');

  const monitor = await testUser(t, ['monitoring']);
  const monitorEnv = { QMIG_URL: sidecar.url, QMIG_CLI_USER: monitor.user, QMIG_CLI_PASSWORD: monitor.password };
  assertExit(await qmig(['status'], monitorEnv), 0, 'monitoring may read');
  const forbidden = await qmig(['start', '--vhost', '/'], monitorEnv);
  assertExit(forbidden, 3, 'monitoring may not start');
  assert.match(forbidden.stderr, /^qmig start: not allowed \(403\): /m);
  const forbiddenXfer = await qmig(['xfer-cancel', 'abc'], monitorEnv);
  assertExit(forbiddenXfer, 3, 'monitoring may not cancel a transfer');

  const brokerDown = await startTestSidecar(t, { env: { QMIG_MANAGEMENT_URL: 'http://127.0.0.1:1' }, brokerWaitMs: 0 });
  const unavailable = await qmig(['status'], { QMIG_URL: brokerDown.url, QMIG_CLI_USER: 'guest', QMIG_CLI_PASSWORD: 'guest' });
  assertExit(unavailable, 3, 'the sidecar cannot reach its broker');
  assert.match(unavailable.stderr, /^qmig status: the sidecar at http:\/\/127\.0\.0\.1:\d+ cannot reach its broker \(503\): /m);

  // Something that is not a qmig sidecar (an HTML page).
  const html = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>hello</html>'));
  await new Promise<void>((r) => html.listen(0, '127.0.0.1', () => r()));
  t.after(() => new Promise((r) => html.close(r)));
  const notSidecar = await qmig(['status'], {
    QMIG_URL: `http://127.0.0.1:${(html.address() as AddressInfo).port}`,
    QMIG_CLI_USER: 'guest',
    QMIG_CLI_PASSWORD: 'Html-Secret-3',
  });
  assertExit(notSidecar, 3, 'not a sidecar');
  assert.match(notSidecar.stderr, /is not JSON: is this the URL of a qmig sidecar\?/);

  assertNoSecrets(runs, ['Refused-Secret-1', wrong, monitor.password, 'Html-Secret-3']);
});
