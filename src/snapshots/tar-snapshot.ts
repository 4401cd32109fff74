/**
 * tar mode: a gzip archive of the node's data directory (QMIG_SNAPSHOT_DATA_DIR) written to
 * QMIG_SNAPSHOT_DIR as `qmig-<node>-<migration id>.tar.gz`, by the system `tar` (GNU tar).
 * The archive is written as `.partial` and renamed when complete, so a file with the final name
 * is always a whole archive. The node keeps running while it is archived: GNU tar's exit code 1
 * ("some files changed while being read") is accepted with a warning — the archive is then
 * crash-consistent, like an EBS snapshot of a running node; anything worse fails the snapshot.
 * `snapshot_id` and `volume_id` are both the archive's path (as the spec says for tar).
 * Removal only ever deletes `qmig-*.tar.gz` files directly inside QMIG_SNAPSHOT_DIR.
 */
import { execFile } from 'node:child_process';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, isAbsolute } from 'node:path';
import { SnapshotFailedError } from '../errors.js';
import { logger } from '../logging.js';
import type { Snapshot } from '../state/records.js';
import { safeNodeName, type NodeSnapshotActivity, type NodeSnapshotter } from './node-snapshotter.js';

export interface TarOptions {
  dataDir: string;
  snapshotDir: string;
  timeoutMs: number;
}

const ARCHIVE = /^qmig-[A-Za-z0-9@._-]+\.tar\.gz$/;

export class TarSnapshotter implements NodeSnapshotter {
  readonly mode = 'tar' as const;
  private readonly dataDir: string;
  private readonly snapshotDir: string;

  constructor(private readonly opts: TarOptions) {
    this.dataDir = resolve(opts.dataDir);
    this.snapshotDir = resolve(opts.snapshotDir);
  }

  archivePath(node: string, migrationId: string): string {
    const id = migrationId.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 400);
    return join(this.snapshotDir, `qmig-${safeNodeName(node)}-${id}.tar.gz`);
  }

  async take(node: string, migrationId: string): Promise<Snapshot> {
    const info = await stat(this.dataDir).catch(() => null);
    if (!info?.isDirectory()) throw new SnapshotFailedError(`tar snapshot of ${node}: data directory ${this.dataDir} does not exist (QMIG_SNAPSHOT_DATA_DIR)`);
    const rel = relative(this.dataDir, this.snapshotDir);
    if (rel === '' || (!rel.startsWith('..') && !isAbsolute(rel))) {
      throw new SnapshotFailedError(`tar snapshot of ${node}: QMIG_SNAPSHOT_DIR ${this.snapshotDir} is inside the data directory ${this.dataDir}`);
    }
    await mkdir(this.snapshotDir, { recursive: true }).catch((err: Error) => {
      throw new SnapshotFailedError(`tar snapshot of ${node}: cannot create ${this.snapshotDir}: ${err.message}`);
    });
    const final = this.archivePath(node, migrationId);
    const partial = `${final}.partial`;
    const started = Date.now();
    const { code, stderr } = await runTar(['-czf', partial, '-C', dirname(this.dataDir), basename(this.dataDir)], this.opts.timeoutMs);
    if (code !== 0 && code !== 1) {
      await rm(partial, { force: true });
      throw new SnapshotFailedError(`tar snapshot of ${node} failed (tar exit ${code}): ${stderr.trim().slice(0, 500) || 'no output'}`);
    }
    if (code === 1)
      logger.warn('tar snapshot: files changed while being archived (node is running)', { node, archive: final, tar: stderr.trim().slice(0, 500) });
    const size = (await stat(partial).catch(() => null))?.size ?? 0;
    if (size === 0) {
      await rm(partial, { force: true });
      throw new SnapshotFailedError(`tar snapshot of ${node} produced no archive`);
    }
    await rename(partial, final);
    logger.info('tar snapshot taken', { node, archive: final, bytes: size, duration_ms: Date.now() - started });
    return { node, snapshot_id: final, volume_id: final };
  }

  async remove(snapshot: Snapshot): Promise<boolean> {
    const path = resolve(snapshot.snapshot_id);
    if (dirname(path) !== this.snapshotDir || !ARCHIVE.test(basename(path))) return false;
    const existed = await stat(path).then(
      () => true,
      () => false,
    );
    await rm(path, { force: true });
    return existed;
  }

  async activity(node: string): Promise<NodeSnapshotActivity> {
    return { node, mode: 'tar', volume_id: this.dataDir, in_progress: [] };
  }
}

function runTar(args: string[], timeoutMs: number): Promise<{ code: number; stderr: string }> {
  return new Promise((resolvePromise) => {
    execFile('tar', args, { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024 }, (err, _stdout, stderr) => {
      if (!err) return resolvePromise({ code: 0, stderr: String(stderr) });
      const e = err as NodeJS.ErrnoException & { code?: number | string; killed?: boolean };
      if (e.killed) return resolvePromise({ code: -1, stderr: `timed out after ${timeoutMs} ms` });
      if (typeof e.code === 'number') return resolvePromise({ code: e.code, stderr: String(stderr) });
      resolvePromise({ code: -1, stderr: `cannot run tar: ${e.message}` });
    });
  });
}
