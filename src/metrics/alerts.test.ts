/**
 * The example alert rules (deploy/prometheus/qmig-alerts.yaml) only use series the sidecar
 * really exposes, and every rule is complete.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { exposition } from './metrics.js';
import { StateCollector } from './state-collector.js';

test('every qmig_* series named by an alert exists', async () => {
  const rules = parse(readFileSync(join(process.cwd(), 'deploy/prometheus/qmig-alerts.yaml'), 'utf8')) as {
    groups: Array<{ name: string; rules: Array<{ alert: string; expr: string; labels?: { severity?: string }; annotations?: { summary?: string } }> }>;
  };
  const state = new StateCollector({
    reader: { listRecords: async () => [] },
    live: { get: () => undefined, all: () => [] },
    transfers: { list: async () => [] },
  });
  const { body } = await exposition([state.registry]);
  const exposed = new Set(
    [...body.matchAll(/^# TYPE (\S+) (\S+)$/gm)].flatMap(([, name, type]) =>
      type === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name],
    ),
  );
  const all = rules.groups.flatMap((g) => g.rules);
  assert.ok(all.length >= 5);
  for (const rule of all) {
    assert.ok(rule.alert && rule.expr && rule.labels?.severity && rule.annotations?.summary, `rule ${rule.alert} is complete`);
    for (const [name] of rule.expr.matchAll(/\bqmig_[a-z_]+/g)) assert.ok(exposed.has(name), `${rule.alert} uses ${name}, which is not exposed`);
  }
});
