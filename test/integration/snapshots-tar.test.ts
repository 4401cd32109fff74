/**
 * tar snapshots of the real test cluster's node data directories: this sidecar's own node and
 * its peers' through the authenticated peer route; removal after success when configured; a
 * missing peer fails the whole step before anything is touched (and removes what was taken).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import axios from 'axios';
import { SnapshotFailedError } from '../../src/errors.js';
import { deleteSnapshots, takeSnapshots } from '../../src/snapshots/index.js';
import { TarSnapshotter } from '../../src/snapshots/tar-snapshot.js';
import { newMigrationId } from '../../src/state/migration-id.js';
import { cluster } from '../support/cluster.js';
import { sidecarContext } from '../support/checks-context.js';
import { startPeerSidecar } from '../support/peer-sidecars.js';
import { assertSchema } from '../support/schemas.js';
import { testUser } from '../support/vhost.js';

const run = promisify(execFile);
const dataDir = (i: number) => join(process.env.QMIG_CLUSTER_DIR ?? '/tmp/qmig-clusters', cluster.name, `node${i + 1}`, 'mnesia');

async function tempDir(t: { after(fn: () => unknown): void }, tag: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `qmig-snap-${tag}-`));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function listArchive(path: string): Promise<string[]> {
  const { stdout } = await run('tar', ['-tzf', path], { maxBuffer: 64 * 1024 * 1024 });
  return stdout.split('\n').filter(Boolean);
}

const tarEnv = (i: number, dir: string, extra: Record<string, string> = {}) => ({
  QMIG_SNAPSHOT_MODE: 'tar',
  QMIG_SNAPSHOT_DATA_DIR: dataDir(i),
  QMIG_SNAPSHOT_DIR: dir,
  ...extra,
});

test('tar snapshot of a real running node: a gzip archive of its data directory, removable only inside the snapshot dir', async (t) => {
  const dir = await tempDir(t, 'one');
  const tar = new TarSnapshotter({ dataDir: dataDir(0), snapshotDir: dir, timeoutMs: 120_000 });
  const id = newMigrationId(cluster.nodeNames[0]);
  const snap = await tar.take(cluster.nodeNames[0], id);
  assert.equal(snap.node, cluster.nodeNames[0]);
  assert.equal(snap.snapshot_id, snap.volume_id);
  assert.equal(snap.snapshot_id, join(dir, `qmig-${cluster.nodeNames[0]}-${id}.tar.gz`));
  assertSchema('snapshot', snap);
  const entries = await listArchive(snap.snapshot_id);
  assert.ok(entries.includes('mnesia/'), 'archive starts at the data directory');
  assert.ok(
    entries.some((e) => e.startsWith(`mnesia/${cluster.nodeNames[0]}/`)),
    `the node's mnesia directory is archived (${entries.slice(0, 5).join(', ')})`,
  );
  assert.ok(!existsSync(`${snap.snapshot_id}.partial`));

  // removal never touches files outside the snapshot directory or not named like ours
  const outside = join(await tempDir(t, 'outside'), `qmig-x-${id}.tar.gz`);
  await writeFile(outside, 'keep');
  assert.equal(await tar.remove({ ...snap, snapshot_id: outside }), false);
  assert.ok(existsSync(outside));
  assert.equal(await tar.remove({ ...snap, snapshot_id: join(dir, '..', 'etc-passwd') }), false);
  assert.equal(await tar.remove(snap), true);
  assert.ok(!existsSync(snap.snapshot_id));
  assert.equal(await tar.remove(snap), false);
});

test('tar refuses a missing data directory and a snapshot dir inside the data directory', async (t) => {
  const dir = await tempDir(t, 'bad');
  await assert.rejects(
    new TarSnapshotter({ dataDir: join(dir, 'nope'), snapshotDir: dir, timeoutMs: 10_000 }).take('n', 'id'),
    (e: unknown) => e instanceof SnapshotFailedError && /does not exist/.test(e.reason),
  );
  await assert.rejects(
    new TarSnapshotter({ dataDir: dir, snapshotDir: join(dir, 'snaps'), timeoutMs: 10_000 }).take('n', 'id'),
    (e: unknown) => e instanceof SnapshotFailedError && /inside the data directory/.test(e.reason),
  );
});

test('takeSnapshots: one archive per cluster node (peers over their authenticated route), deleted after success when configured', async (t) => {
  const dirs = [await tempDir(t, 'n1'), await tempDir(t, 'n2'), await tempDir(t, 'n3')];
  const peer2 = await startPeerSidecar(t, 1, tarEnv(1, dirs[1]));
  const peer3 = await startPeerSidecar(t, 2, tarEnv(2, dirs[2]));
  const coordinator = sidecarContext(t, tarEnv(0, dirs[0], { QMIG_PEERS: `${peer2.url},${peer3.url}`, QMIG_SNAPSHOT_DELETE_ON_SUCCESS: 'true' }), 0);
  const id = newMigrationId(coordinator.nodeName);

  const snaps = await takeSnapshots(coordinator, id);
  assert.deepEqual(
    snaps.map((s) => s.node),
    cluster.nodeNames,
  );
  for (const [i, s] of snaps.entries()) {
    assertSchema('snapshot', s);
    assert.equal(s.snapshot_id, join(dirs[i], `qmig-${cluster.nodeNames[i]}-${id}.tar.gz`));
    const entries = await listArchive(s.snapshot_id);
    assert.ok(
      entries.some((e) => e.startsWith(`mnesia/${cluster.nodeNames[i]}/`)),
      `archive of node ${i + 1} holds its own data`,
    );
  }

  // kept when not configured to delete (what a rollback_pending migration relies on)
  const keeping = sidecarContext(t, tarEnv(0, dirs[0], { QMIG_PEERS: `${peer2.url},${peer3.url}` }), 0);
  await deleteSnapshots(keeping, snaps);
  assert.ok(snaps.every((s) => existsSync(s.snapshot_id)));

  await deleteSnapshots(coordinator, snaps);
  assert.deepEqual(
    snaps.filter((s) => existsSync(s.snapshot_id)),
    [],
  );
});

test('a node without a sidecar in QMIG_PEERS fails the snapshots and removes those already taken', async (t) => {
  const dirs = [await tempDir(t, 'm1'), await tempDir(t, 'm2')];
  const peer2 = await startPeerSidecar(t, 1, tarEnv(1, dirs[1]));
  const coordinator = sidecarContext(t, tarEnv(0, dirs[0], { QMIG_PEERS: peer2.url }), 0);
  await assert.rejects(takeSnapshots(coordinator, newMigrationId(coordinator.nodeName)), (e: unknown) => {
    assert.ok(e instanceof SnapshotFailedError);
    assert.match(e.reason, new RegExp(`no sidecar snapshotted node\\(s\\) ${cluster.nodeNames[2]}: list the sidecar of every node in QMIG_PEERS`));
    assert.equal(e.status, 502);
    return true;
  });
  const { stdout } = await run('find', [dirs[0], dirs[1], '-name', '*.tar.gz*']);
  assert.equal(stdout.trim(), '', 'snapshots already taken were removed');

  const unreachable = sidecarContext(t, tarEnv(0, dirs[0], { QMIG_PEERS: `${peer2.url},http://127.0.0.1:1` }), 0);
  await assert.rejects(
    takeSnapshots(unreachable, newMigrationId(unreachable.nodeName)),
    (e: unknown) => e instanceof SnapshotFailedError && /peer sidecar http:\/\/127\.0\.0\.1:1 unreachable: ECONNREFUSED/.test(e.reason),
  );
});

test('the peer route: administrator only, validated body, schema-conform answers', async (t) => {
  const dir = await tempDir(t, 'route');
  const peer = await startPeerSidecar(t, 1, tarEnv(1, dir));
  const http = axios.create({ baseURL: peer.url, validateStatus: () => true });
  const guest = { username: cluster.user, password: cluster.password };

  const anonymous = await http.post('/api/queue-migration/snapshots', { migration_id: 'x' });
  assert.equal(anonymous.status, 401);
  assertSchema('error-response', anonymous.data);
  const monitor = await testUser(t, ['monitoring']);
  const forbidden = await http.post('/api/queue-migration/snapshots', { migration_id: 'x' }, { auth: { username: monitor.user, password: monitor.password } });
  assert.equal(forbidden.status, 403);
  assert.equal(forbidden.data.error, 'forbidden');

  const badBody = await http.post('/api/queue-migration/snapshots', { migration_id: 'not an id!' }, { auth: guest });
  assert.equal(badBody.status, 400);
  assert.equal(badBody.data.reason, 'migration_id must be a migration id (base64url)');
  const unknownField = await http.post('/api/queue-migration/snapshots', { migration_id: 'abc', extra: 1 }, { auth: guest });
  assert.deepEqual(unknownField.data, { error: 'bad_request', reason: "unknown field 'extra'" });
  const notOurs = await http.post('/api/queue-migration/snapshots', { migration_id: 'abc' }, { auth: guest });
  assert.deepEqual(notOurs.data, { error: 'bad_request', reason: 'migration_id is not a qmig migration id' });
  const wrongMethod = await http.get('/api/queue-migration/snapshots', { auth: guest });
  assert.equal(wrongMethod.status, 405);

  const activity = await http.get('/api/queue-migration/snapshots/in-progress', { auth: guest });
  assert.equal(activity.status, 200);
  assertSchema('snapshot-in-progress-response', activity.data);
  assert.deepEqual(activity.data, { node: cluster.nodeNames[1], mode: 'tar', volume_id: dataDir(1), in_progress: [] });

  const taken = await http.post('/api/queue-migration/snapshots', { migration_id: newMigrationId('x') }, { auth: guest });
  assert.equal(taken.status, 200);
  assertSchema('snapshot-response', taken.data);
  assert.equal(taken.data.node, cluster.nodeNames[1]);
  const someoneElses = { ...taken.data, node: cluster.nodeNames[0] };
  const del = await http.post('/api/queue-migration/snapshots/delete', { snapshots: [someoneElses, taken.data] }, { auth: guest });
  assertSchema('snapshot-delete-response', del.data);
  assert.deepEqual(del.data, { node: cluster.nodeNames[1], deleted: [taken.data.snapshot_id] });
  assert.ok(!existsSync(taken.data.snapshot_id));
});
