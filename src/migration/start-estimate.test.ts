import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WouldNotFitError } from '../errors.js';
import { recordedEstimate, refuseUnfit, sumEstimates } from './start-estimate.js';

const at = '2026-12-03T10:00:00.000Z';
const e = (seconds: number) => ({ seconds, low_seconds: seconds * 0.8, high_seconds: seconds * 1.2, calibrated_at: at });

test('recordedEstimate keeps the central value, the range and the calibration time only', () => {
  const plan = { estimate: { ...e(100), concurrency: 4, check_seconds: 0.5 } };
  assert.deepEqual(recordedEstimate(plan), e(100));
});

test('sumEstimates: vhosts run one after the other, so their estimates and ranges add up', () => {
  assert.deepEqual(sumEstimates([e(100), e(50.5)], at), { seconds: 150.5, low_seconds: 120.4, high_seconds: 180.6, calibrated_at: at });
  assert.deepEqual(sumEstimates([], at), { seconds: 0, low_seconds: 0, high_seconds: 0, calibrated_at: at });
});

test('refuseUnfit: 409 would_not_fit only when a deadline is set and the central estimate passes it', () => {
  const opens = new Date('2026-12-03T10:00:00Z');
  assert.doesNotThrow(() => refuseUnfit(e(600), opens, { deadline: null }));
  assert.doesNotThrow(() => refuseUnfit(null, opens, { deadline: '2026-12-03T10:00:01Z' }));
  assert.doesNotThrow(() => refuseUnfit(e(60), opens, { deadline: '2026-12-03T10:01:00Z' }));
  assert.throws(
    () => refuseUnfit(e(61), opens, { deadline: '2026-12-03T10:01:00Z' }),
    (err: unknown) => err instanceof WouldNotFitError && err.status === 409 && err.body().error === 'would_not_fit' && err.availableSeconds === 60,
  );
  // A scheduled window: opens later, so less time remains before the same deadline.
  assert.throws(() => refuseUnfit(e(60), new Date('2026-12-03T10:00:30Z'), { deadline: '2026-12-03T10:01:00Z' }), WouldNotFitError);
});
