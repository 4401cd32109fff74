/**
 * The Grafana dashboard (deploy/grafana/qmig-dashboard.json) parses, is importable (uid, title,
 * data source variable, unique panel ids) and queries only series the sidecar really exposes;
 * the same check run on broken copies fails.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildInfoRegistry } from './build-info.js';
import { exposition } from './metrics.js';
import { StateCollector } from './state-collector.js';

type Panel = { id?: number; type?: string; title?: string; datasource?: { uid?: string }; targets?: Array<{ expr?: string }> };
type Dashboard = { uid?: string; title?: string; templating?: { list?: Array<{ name: string; type: string }> }; panels?: Panel[] };

async function exposedSeries(): Promise<Set<string>> {
  const state = new StateCollector({
    reader: { listRecords: async () => [] },
    live: { get: () => undefined, all: () => [] },
    transfers: { list: async () => [] },
  });
  const buildInfo = buildInfoRegistry({ version: '0.0.0', node: 'rabbit@n', clusterName: async () => 'c' });
  const { body } = await exposition([state.registry, buildInfo]);
  return new Set(
    [...body.matchAll(/^# TYPE (\S+) (\S+)$/gm)].flatMap(([, name, type]) =>
      type === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name],
    ),
  );
}

function dashboardProblems(d: Dashboard, exposed: Set<string>): string[] {
  const problems: string[] = [];
  if (!d.uid || !d.title) problems.push('no uid or title');
  if (!d.templating?.list?.some((v) => v.name === 'datasource' && v.type === 'datasource')) problems.push('no datasource variable');
  const panels = (d.panels ?? []).filter((p) => p.type !== 'row');
  if (panels.length < 8) problems.push(`only ${panels.length} panels`);
  const ids = (d.panels ?? []).map((p) => p.id);
  if (new Set(ids).size !== ids.length) problems.push('duplicate panel ids');
  for (const p of panels) {
    if (p.datasource?.uid !== '${datasource}') problems.push(`${p.title}: not on the datasource variable`);
    if (!p.targets?.length) problems.push(`${p.title}: no query`);
    for (const t of p.targets ?? []) {
      if (!t.expr) problems.push(`${p.title}: a query without expr`);
      const names = [...(t.expr ?? '').matchAll(/\bqmig_[a-z_]+/g)].map((m) => m[0]);
      if (names.length === 0) problems.push(`${p.title}: a query on no qmig series`);
      for (const name of names) if (!exposed.has(name)) problems.push(`${p.title}: ${name} is not exposed`);
    }
  }
  return problems;
}

test('the Grafana dashboard parses and queries only exposed series (progress, phases, failures, fence time, moves, build info)', async () => {
  const dashboard = JSON.parse(readFileSync(join(process.cwd(), 'deploy/grafana/qmig-dashboard.json'), 'utf8')) as Dashboard;
  const exposed = await exposedSeries();
  assert.deepEqual(dashboardProblems(dashboard, exposed), []);
  const queried = new Set(
    (dashboard.panels ?? []).flatMap((p) => (p.targets ?? []).flatMap((t) => [...(t.expr ?? '').matchAll(/\bqmig_[a-z_]+/g)].map((m) => m[0]))),
  );
  for (const name of [
    'qmig_active_migration_progress_ratio',
    'qmig_migration_phase_duration_seconds_bucket',
    'qmig_migrations_finished_total',
    'qmig_migration_duration_seconds_sum',
    'qmig_messages_moved_total',
    'qmig_shovel_errors_total',
    'qmig_build_info',
  ]) {
    assert.ok(queried.has(name), `the dashboard shows ${name}`);
  }

  // Broken copies: the same check must fail.
  const renamed = structuredClone(dashboard);
  const first = renamed.panels!.find((p) => p.targets?.length)!;
  first.targets![0].expr = first.targets![0].expr!.replace(/qmig_[a-z_]+/, 'qmig_no_such_series');
  assert.match(dashboardProblems(renamed, exposed).join(), /qmig_no_such_series is not exposed/);
  const noQuery = structuredClone(dashboard);
  noQuery.panels!.find((p) => p.targets?.length)!.targets = [];
  assert.match(dashboardProblems(noQuery, exposed).join(), /no query/);
  const dup = structuredClone(dashboard);
  dup.panels![1].id = dup.panels![0].id;
  assert.match(dashboardProblems(dup, exposed).join(), /duplicate panel ids/);
});

test('qmig_build_info: version, node and the cluster name read at scrape time', async () => {
  let reads = 0;
  const registry = buildInfoRegistry({
    version: '1.2.3',
    node: 'rabbit@a',
    clusterName: async () => (++reads === 1 ? Promise.reject(new Error('down')) : 'prod-eu'),
    cacheMs: 0,
  });
  assert.match(await registry.metrics(), /^qmig_build_info\{version="1\.2\.3",rabbitmq_node="rabbit@a",rabbitmq_cluster="unknown"\} 1$/m);
  assert.match(await registry.metrics(), /^qmig_build_info\{version="1\.2\.3",rabbitmq_node="rabbit@a",rabbitmq_cluster="prod-eu"\} 1$/m);
});
