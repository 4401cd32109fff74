/**
 * What every `qmig bluegreen` command that talks to the target shares: the target options and the
 * request body they make (the password from --target-password or QMIG_TARGET_PASSWORD, never printed).
 */
import { stringValue, UsageError, type OptionTable, type Values } from '../args.js';

export const TARGET_OPTIONS: OptionTable = {
  vhost: { type: 'string', value: 'V', description: 'the vhost to move (required)' },
  target: { type: 'string', value: 'URL', description: 'management API (or qmig sidecar) URL of the target cluster' },
  'target-user': { type: 'string', value: 'U', description: 'user on the target cluster (administrator)' },
  'target-password': { type: 'string', value: 'P', description: 'its password (env QMIG_TARGET_PASSWORD)' },
};

export function required(value: string | undefined, what: string): string {
  if (value === undefined || value === '') throw new UsageError(`${what} is required`);
  return value;
}

/** The vhost and the body both endpoints share. */
export function targetRequest(v: Values, env: NodeJS.ProcessEnv): { vhost: string; body: Record<string, unknown> } {
  const vhost = required(stringValue(v, 'vhost'), '--vhost');
  const target = required(stringValue(v, 'target'), '--target');
  const targetUser = required(stringValue(v, 'target-user'), '--target-user');
  const targetPassword = stringValue(v, 'target-password') ?? env.QMIG_TARGET_PASSWORD;
  if (!targetPassword) throw new UsageError('the target password is required: set QMIG_TARGET_PASSWORD (or give --target-password)');
  return { vhost, body: { target, target_user: targetUser, target_password: targetPassword } };
}
