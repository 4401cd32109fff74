import assert from 'node:assert/strict';
import { test } from 'node:test';
import { judgeRelaxedChecks } from './relaxed-checks.js';
import { judgeSnapshotActivity } from './snapshot-in-progress.js';

const CTX = { asWarning: false, rabbitmqVersion: '3.10.8', defaultQueueType: null };

test('relaxed checks: a probe that could not run is a failed check naming why, even in warn-only mode', () => {
  const c = judgeRelaxedChecks({ probe_queue: 'p', probe_error: 'ACCESS_REFUSED - access to vhost denied' }, { ...CTX, asWarning: true });
  assert.equal(c.status, 'failed');
  assert.equal(c.message, 'Could not run the redeclaration probe in this vhost with the service account: ACCESS_REFUSED - access to vhost denied');
});

test('relaxed checks: the refusal message generalises the probe name so every run says the same', () => {
  const refused = (name: string) =>
    judgeRelaxedChecks(
      { probe_queue: name, without_queue_type: { accepted: false, code: 406, error: `inequivalent arg 'x-queue-type' for queue '${name}'` } },
      CTX,
    );
  assert.equal(refused('qmig.probe.a').message, refused('qmig.probe.b').message);
  assert.match(refused('qmig.probe.a').message, /for queue '<queue>'/);
});

test("snapshot activity: none and tar pass without EBS; tar still needs every node's sidecar", () => {
  assert.equal(judgeSnapshotActivity({ mode: 'none', nodes: [], errors: [] }, ['n1', 'n2']).status, 'passed');
  const tar = { mode: 'tar' as const, errors: [], nodes: [{ node: 'n1', mode: 'tar' as const, volume_id: '/d', in_progress: [] }] };
  const missing = judgeSnapshotActivity(tar, ['n1', 'n2']);
  assert.equal(missing.status, 'failed');
  assert.match(missing.message, /^Cannot reach every sidecar for tar snapshots: no sidecar answered for node\(s\) n2/);
  const ok = judgeSnapshotActivity(tar, ['n1']);
  assert.equal(ok.status, 'passed');
  assert.match(ok.message, /no EBS snapshots are used/);
});

test('snapshot activity: a peer configured with another mode fails', () => {
  const c = judgeSnapshotActivity(
    {
      mode: 'ebs',
      errors: [],
      nodes: [
        { node: 'n1', mode: 'ebs', volume_id: 'vol-1', in_progress: [] },
        { node: 'n2', mode: 'tar', volume_id: '/d', in_progress: [] },
      ],
    },
    ['n1', 'n2'],
  );
  assert.equal(c.status, 'failed');
  assert.match(c.message, /another snapshot mode than ebs: n2 \(tar\)/);
});
