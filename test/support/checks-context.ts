/**
 * A sidecar Context against the test cluster for check and snapshot tests, with configuration
 * overrides (QMIG_* variables). Closed (AMQP connections) when the test ends.
 */
import { loadConfig } from '../../src/config/config.js';
import { createContext, type Context } from '../../src/context.js';
import { cluster } from './cluster.js';
import { TEST_STATE_SECRET } from './state-secret.js';

export function sidecarContext(t: { after(fn: () => unknown): void }, overrides: Record<string, string> = {}, node = 0): Context {
  const amqp = new URL(cluster.amqpUrls[node]);
  amqp.username = '';
  amqp.password = '';
  const config = loadConfig({
    QMIG_MANAGEMENT_URL: cluster.managementUrls[node],
    QMIG_AMQP_URL: amqp.toString(),
    QMIG_USER: cluster.user,
    QMIG_PASSWORD: cluster.password,
    QMIG_LOG_LEVEL: 'error',
    QMIG_STATE_SECRET: TEST_STATE_SECRET,
    // Starts do not run the plan's calibration probe (10 s) unless a test asks for it (plan.test.ts).
    QMIG_PLAN_ESTIMATE_AT_START: 'false',
    ...overrides,
  });
  const ctx = createContext(config, cluster.nodeNames[node]);
  t.after(() => ctx.amqp.close());
  return ctx;
}
