/**
 * Running the `qmig` client commands as operators and CI jobs do: a real child process
 * (`node --import tsx src/cli/main.ts …`), its exit code, stdout and stderr. The caller's
 * connection variables of the test runner's own environment are never inherited.
 */
import { spawn } from 'node:child_process';
import assert from 'node:assert/strict';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

const INHERITED_OUT = ['QMIG_URL', 'QMIG_CLI_USER', 'QMIG_CLI_PASSWORD', 'QMIG_TARGET_PASSWORD'];

export function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 180_000): Promise<CliResult> {
  const base = { ...process.env };
  for (const name of INHERITED_OUT) delete base[name];
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`qmig ${args.join(' ')} did not end in ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Asserts the exit code, showing the output when it differs. */
export function assertExit(result: CliResult, code: number, what = ''): void {
  assert.equal(result.code, code, `${what}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
}

/** Asserts that none of `secrets` appears in any of the outputs, and no stack trace either. */
export function assertNoSecrets(results: CliResult[], secrets: string[]): void {
  for (const r of results) {
    for (const s of secrets) {
      assert.ok(!r.stdout.includes(s) && !r.stderr.includes(s), `a secret was printed:\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    }
    assert.doesNotMatch(r.stderr, /\n\s+at .+\(.+:\d+:\d+\)/, 'no stack trace');
  }
}

/** The JSON documents of an output with one document per line. */
export function jsonLines(stdout: string): unknown[] {
  return stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l));
}
