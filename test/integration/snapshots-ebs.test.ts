/**
 * EBS snapshots through the REAL @aws-sdk/client-ec2 against a local endpoint that speaks the
 * EC2 Query API (test/support/fake-ec2.ts): the coordinator finds its instance through IMDSv2,
 * its peers through configured instance ids; snapshots are tagged with the migration id; the
 * snapshot_not_in_progress check sees pending snapshots on every node and treats an unreachable
 * EC2 as failed — and check and start (assessStart) agree on it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SnapshotFailedError } from '../../src/errors.js';
import { EbsSnapshotter, MIGRATION_TAG, NODE_TAG } from '../../src/snapshots/ebs-snapshot.js';
import { deleteSnapshots, takeSnapshots } from '../../src/snapshots/index.js';
import { newMigrationId } from '../../src/state/migration-id.js';
import { admin, cluster } from '../support/cluster.js';
import { checkAndStart, checkOf, mirroredNow, waitForQueues } from '../support/checks-agreement.js';
import { sidecarContext } from '../support/checks-context.js';
import { FakeEc2 } from '../support/fake-ec2.js';
import { startPeerSidecar } from '../support/peer-sidecars.js';
import { mirrorPolicy, testVhost } from '../support/vhost.js';

// Dummy credentials for the SDK's default chain (the fake endpoint only checks requests are signed).
process.env.AWS_ACCESS_KEY_ID = 'AKIAQMIGTEST00000000';
process.env.AWS_SECRET_ACCESS_KEY = 'qmig-test-secret';
delete process.env.AWS_PROFILE;

const INSTANCES = ['i-0aaa000000000001', 'i-0bbb000000000002', 'i-0ccc000000000003'];

async function ebsCluster(t: { after(fn: () => unknown): void }, extra: Record<string, string> = {}) {
  const ec2 = await new FakeEc2().start();
  t.after(() => ec2.stop());
  ec2.imdsInstanceId = INSTANCES[0];
  const volumes = INSTANCES.map((id) => ec2.attachVolume(id, '/dev/sdh'));
  ec2.attachVolume(INSTANCES[0], '/dev/xvda'); // the root volume is not the data volume
  const base = { QMIG_SNAPSHOT_MODE: 'ebs', QMIG_EBS_ENDPOINT: ec2.url, QMIG_EBS_DEVICE: '/dev/sdh', QMIG_SNAPSHOT_TIMEOUT_SECONDS: '10' };
  const peer2 = await startPeerSidecar(t, 1, { ...base, QMIG_EBS_REGION: 'eu-west-1', QMIG_EBS_INSTANCE_ID: INSTANCES[1] });
  const peer3 = await startPeerSidecar(t, 2, { ...base, QMIG_EBS_REGION: 'eu-west-1', QMIG_EBS_INSTANCE_ID: INSTANCES[2] });
  // The coordinator reads instance id AND region from IMDSv2 (served by the same fake).
  const coordinator = sidecarContext(
    t,
    { ...base, QMIG_EBS_IMDS_ENDPOINT: ec2.url, QMIG_PEERS: `${peer2.url},${peer3.url}`, QMIG_RELAXED_CHECKS_WARN_ONLY: 'true', ...extra },
    0,
  );
  return { ec2, volumes, coordinator };
}

test('EBS: one snapshot per node of its data volume, tagged with the migration id, deleted after success when configured', async (t) => {
  const { ec2, volumes, coordinator } = await ebsCluster(t, { QMIG_SNAPSHOT_DELETE_ON_SUCCESS: 'true' });
  const id = newMigrationId(coordinator.nodeName);
  const snaps = await takeSnapshots(coordinator, id);
  assert.deepEqual(
    snaps.map((s) => [s.node, s.volume_id]),
    cluster.nodeNames.map((n, i) => [n, volumes[i].volumeId]),
  );
  for (const s of snaps) {
    assert.match(s.snapshot_id, /^snap-[0-9a-f]+$/);
    const stored = ec2.snapshots.get(s.snapshot_id);
    assert.ok(stored, 'created in EC2');
    assert.equal(stored.tags[MIGRATION_TAG], id);
    assert.equal(stored.tags[NODE_TAG], s.node);
  }
  const creates = ec2.callsOf('CreateSnapshot');
  assert.equal(creates.length, 3);
  assert.ok(
    ec2.calls.every((c) => c.signed),
    'every EC2 call is SigV4-signed by the SDK',
  );
  assert.deepEqual(ec2.callsOf('DescribeVolumes')[0].params['Filter.2.Value.1'], '/dev/sdh');

  await deleteSnapshots(coordinator, snaps);
  assert.equal(ec2.callsOf('DeleteSnapshot').length, 3);
  assert.deepEqual(
    snaps.filter((s) => ec2.snapshots.has(s.snapshot_id)),
    [],
  );
});

test('EBS: removal refuses a snapshot that qmig did not create (no qmig tags): an external backup named in a record survives', async (t) => {
  const { ec2, volumes, coordinator } = await ebsCluster(t, { QMIG_SNAPSHOT_DELETE_ON_SUCCESS: 'true' });
  const backup = ec2.addSnapshot(volumes[0].volumeId, 'completed');
  const snapshotter = new EbsSnapshotter({
    endpoint: ec2.url,
    region: 'eu-west-1',
    instanceId: INSTANCES[0],
    device: '/dev/sdh',
    imdsEndpoint: ec2.url,
    timeoutMs: 10_000,
  });
  await assert.rejects(
    snapshotter.remove({ node: cluster.nodeNames[0], snapshot_id: backup.snapshotId, volume_id: volumes[0].volumeId }),
    (e: unknown) => e instanceof SnapshotFailedError && /not created by qmig/.test(e.reason),
  );
  await deleteSnapshots(coordinator, [{ node: cluster.nodeNames[0], snapshot_id: backup.snapshotId, volume_id: volumes[0].volumeId }]);
  assert.ok(ec2.snapshots.has(backup.snapshotId), 'the external snapshot is still there');
  assert.equal(ec2.callsOf('DeleteSnapshot').length, 0, 'DeleteSnapshot was never called');
  // A snapshot qmig took for another node is refused too (its qmig:node tag names that node).
  const [mine] = await takeSnapshots(coordinator, newMigrationId(coordinator.nodeName)).then((s) => s.filter((x) => x.node === cluster.nodeNames[1]));
  await assert.rejects(snapshotter.remove({ ...mine, node: cluster.nodeNames[0] }), (e: unknown) => e instanceof SnapshotFailedError);
  assert.ok(ec2.snapshots.has(mine.snapshot_id));
});

test('EBS snapshot_not_in_progress: pending on any node fails (check and start agree), completed passes', async (t) => {
  const { ec2, volumes, coordinator } = await ebsCluster(t);
  const vhost = await testVhost(t);
  await mirrorPolicy(vhost);
  await admin().declareQueue(vhost, 'orders', { durable: true });
  await waitForQueues(vhost, ['orders'], mirroredNow);

  const clear = await checkAndStart(coordinator, vhost);
  const ok = checkOf(clear.report, 'snapshot_not_in_progress');
  assert.equal(ok.status, 'passed', ok.message);
  assert.equal(ok.message, 'No EBS snapshots in progress on the data volumes of all 3 node(s)');
  assert.equal(clear.refusal, null);
  assert.equal(ec2.callsOf('DescribeSnapshots').length, 6, 'every node was asked, by check and by start');

  // A backup job's snapshot of node 3's volume is still pending.
  const backup = ec2.addSnapshot(volumes[2].volumeId, 'pending');
  const busy = await checkAndStart(coordinator, vhost);
  const pending = checkOf(busy.report, 'snapshot_not_in_progress');
  assert.equal(pending.status, 'failed');
  assert.equal(
    pending.message,
    `EBS snapshot(s) in progress: ${backup.snapshotId} of ${volumes[2].volumeId} (${cluster.nodeNames[2]}, 42%). Wait until they complete before migrating.`,
  );
  assert.equal(busy.refusal?.reason, pending.message);

  // Our own snapshots held pending by EC2 count too.
  ec2.holdPending = true;
  backup.state = 'completed';
  const ours = await takeSnapshots(coordinator, newMigrationId(coordinator.nodeName));
  const held = await checkAndStart(coordinator, vhost);
  assert.equal(checkOf(held.report, 'snapshot_not_in_progress').status, 'failed');
  assert.deepEqual(
    (checkOf(held.report, 'snapshot_not_in_progress').details?.in_progress as Array<{ snapshot_id: string }>).map((p) => p.snapshot_id).sort(),
    ours.map((s) => s.snapshot_id).sort(),
  );

  for (const s of ec2.snapshots.values()) s.state = 'completed';
  const done = await checkAndStart(coordinator, vhost);
  assert.equal(checkOf(done.report, 'snapshot_not_in_progress').status, 'passed');
  assert.equal(done.refusal, null);
});

test('EBS: an unreachable EC2 is a failed check and a failed snapshot, never a pass', async (t) => {
  const { ec2, coordinator } = await ebsCluster(t);
  const vhost = await testVhost(t);
  await mirrorPolicy(vhost);
  await admin().declareQueue(vhost, 'orders', { durable: true });
  await waitForQueues(vhost, ['orders'], mirroredNow);
  // Resolve instance and volume while reachable, then lose EC2.
  assert.equal((await checkAndStart(coordinator, vhost)).refusal, null);
  ec2.unreachable = true;

  const down = await checkAndStart(coordinator, vhost);
  const c = checkOf(down.report, 'snapshot_not_in_progress');
  assert.equal(c.status, 'failed');
  assert.match(c.message, /^Cannot tell whether EBS snapshots are in progress: /);
  assert.match(c.message, /EC2 DescribeSnapshots at http:\/\/127\.0\.0\.1:\d+ unreachable/);
  assert.equal((c.details?.errors as unknown[]).length, 3, 'this sidecar and both peers report it');
  assert.equal(down.refusal?.reason, c.message);

  await assert.rejects(
    takeSnapshots(coordinator, newMigrationId(coordinator.nodeName)),
    (e: unknown) => e instanceof SnapshotFailedError && /EC2 CreateSnapshot .* unreachable/.test(e.reason),
  );
  assert.equal(ec2.snapshots.size, 0);
});

test('EBS: no volume at the configured device, or no instance metadata, is a clear error', async (t) => {
  const ec2 = await new FakeEc2().start();
  t.after(() => ec2.stop());
  ec2.attachVolume(INSTANCES[0], '/dev/sdh');
  const wrongDevice = new EbsSnapshotter({
    region: 'eu-west-1',
    endpoint: ec2.url,
    instanceId: INSTANCES[0],
    device: '/dev/sdz',
    imdsEndpoint: ec2.url,
    timeoutMs: 5000,
  });
  await assert.rejects(
    wrongDevice.take('n', 'id'),
    (e: unknown) => e instanceof SnapshotFailedError && e.reason === `no EBS volume attached to instance ${INSTANCES[0]} as /dev/sdz (QMIG_EBS_DEVICE)`,
  );
  const noImds = new EbsSnapshotter({ region: 'eu-west-1', endpoint: ec2.url, device: '/dev/sdh', imdsEndpoint: ec2.url, timeoutMs: 5000 });
  await assert.rejects(
    noImds.activity('n'),
    (e: unknown) =>
      e instanceof SnapshotFailedError && /cannot read instance-id from the instance metadata service .*; set QMIG_EBS_INSTANCE_ID/.test(e.reason),
  );
});
