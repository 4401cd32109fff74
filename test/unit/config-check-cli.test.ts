/**
 * `qmig config --check` as an operator runs it (a child process): a housekeeping schedule that has
 * five or six fields but that node-cron cannot run fails here, naming the variable, instead of
 * passing the check and stopping `qmig serve` later.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

async function configCheck(env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'config', '--check'], {
      env: { ...process.env, QMIG_STATE_SECRET: 'c'.repeat(32), ...env },
      timeout: 120_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test('qmig config --check refuses QMIG_HOUSEKEEPING_CRON="99 99 * * * *" naming the variable (exit 2), accepts a valid one', async () => {
  const bad = await configCheck({ QMIG_HOUSEKEEPING_CRON: '99 99 * * * *' });
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /^qmig: invalid configuration: QMIG_HOUSEKEEPING_CRON: is not a valid cron expression .*"99 99 \* \* \* \*"/m);
  const good = await configCheck({ QMIG_HOUSEKEEPING_CRON: '0 */5 * * * *' });
  assert.equal(good.code, 0, good.stderr);
  assert.match(good.stdout, /configuration ok/);
});
