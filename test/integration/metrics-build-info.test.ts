/**
 * `qmig_build_info` of a sidecar on the real cluster: qmig's version, the node beside it and
 * the cluster name the broker reports (the labels rabbitmq_identity_info has, to join on).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { admin, cluster } from '../support/cluster.js';
import { startTestSidecar } from '../support/sidecar.js';

test('GET /metrics has qmig_build_info with version, node and cluster name', async (t) => {
  const sidecar = await startTestSidecar(t, { node: 1 });
  const version = JSON.parse(readFileSync('package.json', 'utf8')).version as string;
  // Until `rabbitmqctl set_cluster_name`, each node of a 3.10 cluster reports a default of its own.
  const clusterName = String((await admin(1).overview()).cluster_name);
  assert.ok(clusterName.length > 0);
  const text = await (await fetch(sidecar.url + '/metrics')).text();
  const line = text.split('\n').find((l) => l.startsWith('qmig_build_info{'));
  assert.equal(line, `qmig_build_info{version="${version}",rabbitmq_node="${cluster.nodeNames[1]}",rabbitmq_cluster="${clusterName}"} 1`);
});
