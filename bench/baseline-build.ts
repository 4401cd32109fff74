/**
 * Another revision of qmig, built beside this checkout, for the benchmarks that measure this
 * build against it in one run (bench:compare, figure 7's before and after).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function run(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) exited ${r.status}: ${r.stdout}`);
  return r.stdout.trim();
}

/** The baseline's checkout, built: reused when there, else made with `git worktree add`. */
export function prepareBaseline(rev: string): { rev: string; root: string } {
  const full = run('git', ['rev-parse', '--verify', `${rev}^{commit}`], '.');
  const short = full.slice(0, 7);
  const root = path.join(os.tmpdir(), `qmig-baseline-${short}`);
  if (!existsSync(path.join(root, 'package.json'))) {
    console.log(`baseline: git worktree add --detach ${root} ${short}`);
    run('git', ['worktree', 'add', '--detach', root, full], '.');
  }
  const head = run('git', ['rev-parse', 'HEAD'], root);
  if (head !== full) throw new Error(`${root} is at ${head.slice(0, 7)}, not ${short}: remove it (git worktree remove --force ${root}) and run again`);
  if (!existsSync(path.join(root, 'node_modules', '.package-lock.json'))) {
    console.log(`baseline: npm ci in ${root} …`);
    run('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], root);
  }
  if (!existsSync(path.join(root, 'dist', 'cli', 'main.js'))) {
    console.log(`baseline: npm run build in ${root} …`);
    run('npm', ['run', '-s', 'build'], root);
  }
  return { rev: short, root };
}
