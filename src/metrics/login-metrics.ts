/**
 * Metrics of the failed-login limiter (src/http/login-rate-limiter.ts): failed logins and
 * attempts refused with 429, by path (`api`: /api/queue-migration, `proxy`: the proxied
 * management API and UI) and by the limit that refused them (`user` name or client `address`).
 */
import { Counter } from 'prom-client';
import { registry } from './metrics.js';

export type LoginPath = 'api' | 'proxy';

export const loginFailures = new Counter({
  name: 'qmig_login_failures_total',
  help: 'Failed logins (credentials the broker refused), by path (api, proxy).',
  labelNames: ['path'] as const,
  registers: [registry],
});

export const loginRefusals = new Counter({
  name: 'qmig_login_refusals_total',
  help: 'Login attempts refused with 429 by the failed-login back-off, by path (api, proxy) and limit (user, address).',
  labelNames: ['path', 'limit'] as const,
  registers: [registry],
});

export function recordLoginFailure(path: LoginPath): void {
  loginFailures.inc({ path });
}

export function recordLoginRefusal(path: LoginPath, limit: 'user' | 'address'): void {
  loginRefusals.inc({ path, limit });
}
