/**
 * Every integration test gets its own vhost, deleted when the test ends (pass or fail).
 */
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import { enc } from '../../src/broker/management-client.js';
import { admin, cluster } from './cluster.js';

export interface TestVhostOptions {
  /** Extra text in the name, e.g. characters that need URL encoding. */
  suffix?: string;
  defaultQueueType?: 'classic' | 'quorum';
}

/** Creates a fresh vhost (guest has full access) and deletes it after the test. */
export async function testVhost(t: TestContext | { after(fn: () => unknown): void }, opts: TestVhostOptions = {}): Promise<string> {
  const name = `qmig-test-${randomBytes(4).toString('hex')}${opts.suffix ?? ''}`;
  const mgmt = admin();
  const body: Record<string, unknown> = {};
  if (opts.defaultQueueType) body.defaultqueuetype = opts.defaultQueueType;
  await mgmt.ok('PUT', `/vhosts/${enc(name)}`, body);
  await mgmt.setPermission(name, cluster.user, { configure: '.*', write: '.*', read: '.*' });
  t.after(async () => {
    await mgmt.deleteIfExists(`/vhosts/${enc(name)}`).catch(() => undefined);
  });
  return name;
}

/** A mirrored-queue policy on the vhost (exactly 2 with automatic sync unless told otherwise). */
export async function mirrorPolicy(
  vhost: string,
  pattern = '.*',
  definition: Record<string, unknown> = { 'ha-mode': 'exactly', 'ha-params': 2, 'ha-sync-mode': 'automatic' },
  name = 'ha',
): Promise<void> {
  await admin().ok('PUT', `/policies/${enc(vhost)}/${enc(name)}`, { pattern, definition, 'apply-to': 'queues', priority: 0 });
}

/** Creates a user with the given tags and full permissions on `vhosts`; deleted after the test. */
export async function testUser(
  t: { after(fn: () => unknown): void },
  tags: string[],
  vhosts: string[] = [],
  password = 'secret-' + randomBytes(3).toString('hex'),
): Promise<{ user: string; password: string }> {
  const user = `qmig-user-${randomBytes(4).toString('hex')}`;
  const mgmt = admin();
  await mgmt.ok('PUT', `/users/${enc(user)}`, { password, tags: tags.join(',') });
  for (const vh of vhosts) await mgmt.setPermission(vh, user, { configure: '.*', write: '.*', read: '.*' });
  t.after(async () => {
    await mgmt.deleteIfExists(`/users/${enc(user)}`).catch(() => undefined);
  });
  return { user, password };
}
