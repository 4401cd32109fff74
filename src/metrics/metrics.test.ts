import assert from 'node:assert/strict';
import { test } from 'node:test';
import { shovelErrorReason } from '../broker/shovels.js';
import { checkResults, exposition, recordCheckReport, recordShovelError, shovelErrors, unsuitableQueues } from './metrics.js';

async function value(
  metric: { get(): Promise<{ values: Array<{ value: number; labels: Partial<Record<string, string | number>> }> }> },
  labels: Record<string, string>,
): Promise<number> {
  const { values } = await metric.get();
  return values.filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l)).reduce((n, v) => n + v.value, 0);
}

test('a check report counts each system check and queue issue', async () => {
  const passed = await value(checkResults, { check_type: 'disk_space', status: 'passed' });
  const warned = await value(checkResults, { check_type: 'relaxed_checks_setting', status: 'warning' });
  const issues = await value(unsuitableQueues, { type: 'exclusive', severity: 'error' });
  recordCheckReport({
    system_checks: {
      checks: [
        { check_type: 'disk_space', status: 'passed' },
        { check_type: 'relaxed_checks_setting', status: 'warning' },
      ],
    },
    queue_checks: {
      results: [
        { type: 'exclusive', severity: 'error' },
        { type: 'exclusive', severity: 'error' },
      ],
    },
  });
  recordCheckReport(null); // tolerated
  assert.equal(await value(checkResults, { check_type: 'disk_space', status: 'passed' }), passed + 1);
  assert.equal(await value(checkResults, { check_type: 'relaxed_checks_setting', status: 'warning' }), warned + 1);
  assert.equal(await value(unsuitableQueues, { type: 'exclusive', severity: 'error' }), issues + 2);
});

test('shovel errors are classified from the move error messages', async () => {
  assert.equal(shovelErrorReason("shovel 'qmig.shovel.q.to-quorum' terminated: connection refused"), 'terminated');
  assert.equal(shovelErrorReason("shovel 'x' did not start within 30 s (state: starting)"), 'start_timeout');
  assert.equal(shovelErrorReason("moving 'a' to 'b' timed out: 3 message(s) still in the source"), 'timeout');
  assert.equal(shovelErrorReason("'a' still holds 2 message(s) after 3 shovel round(s)"), 'rounds_exhausted');
  assert.equal(shovelErrorReason('something else'), 'other');
  const before = await value(shovelErrors, { reason: 'terminated' });
  recordShovelError('terminated');
  assert.equal(await value(shovelErrors, { reason: 'terminated' }), before + 1);
});

test('the exposition is Prometheus text with HELP and TYPE lines', async () => {
  const { contentType, body } = await exposition();
  assert.match(contentType, /^text\/plain; version=0\.0\.4/);
  assert.match(body, /# HELP qmig_messages_moved_total /);
  assert.match(body, /# TYPE qmig_migration_phase_duration_seconds histogram/);
  assert.match(body, /# TYPE qmig_broker_errors_total counter/);
});

test('once the engine reports exact phase durations, sampled ones stop', async () => {
  const { engineReportsPhases, recordPhaseDuration, phaseDuration } = await import('./metrics.js');
  const before = (await phaseDuration.get()).values
    .filter((v) => v.metricName?.endsWith('_count') && v.labels.phase === 'save')
    .reduce((n, v) => n + v.value, 0);
  assert.equal(engineReportsPhases(), false);
  recordPhaseDuration('save', 0.25);
  recordPhaseDuration('save', Number.NaN); // ignored
  assert.equal(engineReportsPhases(), true);
  const after = (await phaseDuration.get()).values
    .filter((v) => v.metricName?.endsWith('_count') && v.labels.phase === 'save')
    .reduce((n, v) => n + v.value, 0);
  assert.equal(after, before + 1);
});
