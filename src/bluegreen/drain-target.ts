/**
 * The target of a drain as the sidecars reach it again after the start: the target administrator
 * password is kept in the record ENCRYPTED (state/secret-box.ts, bound to the record's parameter
 * name; key from QMIG_STATE_SECRET, QMIG_STATE_SECRET_PREVIOUS accepted), registered as a secret
 * the moment it is opened so that no log line can carry it.
 *
 * The temporary user's password lives in the source's shovel parameters only. A sidecar that
 * resumes a drain takes it from a shovel of the drain that still exists (its dest-uri); only when
 * none is left does it set a new password on the user (shovels still running keep their
 * connection; each missing one is created with the new password).
 */
import { ManagementClient } from '../broker/management-client.js';
import { drainParameter } from '../broker/names.js';
import { brokerTlsFiles } from '../broker/tls-options.js';
import type { Context } from '../context.js';
import { registerSecret } from '../redaction.js';
import { SecretBox, type SecretBoxValue } from '../state/secret-box.js';
import { renewShovelUserPassword, type ShovelUser } from '../transfer/shovel-user.js';
import { connectTarget, type TargetCluster } from '../transfer/target-cluster.js';
import type { DrainRecord } from './drain-record.js';

export class TargetPasswordError extends Error {
  override readonly name = 'TargetPasswordError';
}

export function secretBox(ctx: Pick<Context, 'config'>): SecretBox {
  return new SecretBox(ctx.config.stateSecret, ctx.config.stateSecretPrevious);
}

export function sealTargetPassword(ctx: Pick<Context, 'config'>, drainId: string, password: string): SecretBoxValue {
  return secretBox(ctx).seal(password, drainParameter(drainId));
}

/** The target password of the record (registered as a secret); throws when no key opens it. */
export function targetPassword(ctx: Pick<Context, 'config'>, record: DrainRecord): string {
  const opened = secretBox(ctx).open(record.target_password_box, drainParameter(record.id));
  if (!opened)
    throw new TargetPasswordError('the target password of this drain cannot be decrypted (QMIG_STATE_SECRET changed without QMIG_STATE_SECRET_PREVIOUS?)');
  registerSecret(opened.plaintext);
  if (opened.stale) record.target_password_box = sealTargetPassword(ctx, record.id, opened.plaintext);
  return opened.plaintext;
}

/** A management client on the target with the drain's target credentials (figures, no validation). */
export function targetClient(ctx: Pick<Context, 'config'>, record: DrainRecord): ManagementClient {
  return new ManagementClient({
    baseUrl: record.target,
    user: record.target_user,
    password: targetPassword(ctx, record),
    ...brokerTlsFiles(ctx.config),
    timeoutMs: ctx.config.brokerTimeoutMs,
  });
}

/** The target validated again, as at the start (a resumed drain). */
export function reconnectTarget(ctx: Context, record: DrainRecord): Promise<TargetCluster> {
  return connectTarget(ctx, { target: record.target, targetUser: record.target_user, targetPassword: targetPassword(ctx, record), vhost: record.vhost });
}

/** The temporary user's credentials in a dest-uri (`amqp[s]://user:pass@host:port/vhost`), or null. */
export function credentialsOfUri(uri: unknown): ShovelUser | null {
  if (typeof uri !== 'string') return null;
  try {
    const u = new URL(uri);
    if (!u.username || !u.password) return null;
    return { user: decodeURIComponent(u.username), password: decodeURIComponent(u.password) };
  } catch {
    return null;
  }
}

/**
 * The temporary user's credentials for new shovels of a resumed drain: from one of its shovels
 * still defined, or a new password set on the user.
 */
export async function recoverShovelUser(ctx: Context, record: DrainRecord, target: TargetCluster): Promise<{ user: ShovelUser; renewed: boolean }> {
  const names = new Set(record.queues.map((q) => q.shovel));
  const params = await ctx.mgmt.shovelParameters(record.vhost);
  for (const p of params) {
    if (!names.has(p.name)) continue;
    const found = credentialsOfUri(p.value['dest-uri']);
    if (found && found.user === record.target_shovel_user) {
      registerSecret(found.password);
      return { user: found, renewed: false };
    }
  }
  return { user: await renewShovelUserPassword(target.mgmt, record.target_shovel_user, target.tags.includes('impersonator')), renewed: true };
}
