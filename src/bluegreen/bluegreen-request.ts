/**
 * The bodies of `POST bluegreen/plan/:vhost` and `POST bluegreen/definitions/:vhost`, after the
 * route validated them against their schemas (schemas/bluegreen-*-request.json): the target as in
 * a transfer (an http(s) URL without credentials, target_user, target_password — registered as a
 * secret at once, never logged, stored or answered) and, for the apply, the operator's reason.
 */
import { registerSecret } from '../redaction.js';
import { BadRequestError } from '../errors.js';
import { MAX_REASON_LENGTH, parseTargetUrl } from '../transfer/transfer-request.js';

export interface BlueGreenPlanBody {
  target: string;
  target_user: string;
  target_password: string;
}

export interface BlueGreenDefinitionsBody extends BlueGreenPlanBody {
  reason: string;
}

export interface BlueGreenRequest {
  vhost: string;
  /** Normalised management URL of the target (no trailing slash, no credentials). */
  target: string;
  targetUser: string;
  targetPassword: string;
}

/** The vhost of the path: one the management API can address. */
function pathVhost(vhost: string): string {
  if (vhost === '' || vhost === '.' || vhost === '..') throw new BadRequestError(`vhost '${vhost}' cannot be addressed through the management API`);
  return vhost;
}

export function blueGreenRequest(vhost: string, body: BlueGreenPlanBody): BlueGreenRequest {
  registerSecret(body.target_password);
  return { vhost: pathVhost(vhost), target: parseTargetUrl(body.target), targetUser: body.target_user, targetPassword: body.target_password };
}

export function applyReason(body: BlueGreenDefinitionsBody): string {
  const reason = body.reason.trim();
  if (reason === '') throw new BadRequestError('reason must not be empty');
  if (reason.length > MAX_REASON_LENGTH) throw new BadRequestError(`reason must be at most ${MAX_REASON_LENGTH} characters, got ${reason.length}`);
  return reason;
}

/** The body of `POST bluegreen/start/:vhost` (schemas/bluegreen-start-request.json). */
export interface DrainStartBody extends BlueGreenDefinitionsBody {
  idle_seconds?: number;
  remove_source_queues?: boolean;
}

export const DEFAULT_IDLE_SECONDS = 30;

export interface DrainOptions {
  reason: string;
  idleSeconds: number;
  removeSourceQueues: boolean;
}

export function drainOptions(body: DrainStartBody): DrainOptions {
  return { reason: applyReason(body), idleSeconds: body.idle_seconds ?? DEFAULT_IDLE_SECONDS, removeSourceQueues: body.remove_source_queues ?? false };
}
