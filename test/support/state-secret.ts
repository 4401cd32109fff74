/**
 * The key that seals qmig's broker-held state in tests: scripts/test.sh exports one per test
 * cluster (QMIG_STATE_SECRET); test sidecars (sidecar.ts) and the tests that write records
 * straight into the store share it, so what either writes verifies for the other.
 */
import { StateSeal } from '../../src/state/state-seal.js';

export const TEST_STATE_SECRET = process.env.QMIG_STATE_SECRET ?? 'qmig-test-state-secret-for-local-runs-only';

export function testSeal(): StateSeal {
  return new StateSeal(TEST_STATE_SECRET);
}
