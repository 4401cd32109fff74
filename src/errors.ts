/**
 * Domain errors. Each carries the HTTP status and the exact JSON body the API answers with;
 * src/http/error-mapper.ts is the one place that turns them (and anything unexpected) into a
 * response. Bodies follow ../shared/spec/HTTP_API.md where it names one.
 */
export type ErrorBody = { error: string; reason?: string } & Record<string, unknown>;

export abstract class QmigError extends Error {
  abstract readonly status: number;
  abstract body(): ErrorBody;
  headers(): Record<string, string> {
    return {};
  }
}

/** 400 {"error":"bad_request","reason":...}: invalid input or a refused validation. */
export class BadRequestError extends QmigError {
  readonly status = 400;
  constructor(
    readonly reason: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(reason);
  }
  body(): ErrorBody {
    return { error: 'bad_request', reason: this.reason, ...this.extra };
  }
}

/**
 * 401. Deliberately without a `WWW-Authenticate: Basic` challenge: a browser that answers one
 * caches the credentials and attaches them to requests any web page makes to the sidecar (CSRF).
 * API clients (CLI, curl -u) send their credentials without being challenged.
 */
export class NotAuthorizedError extends QmigError {
  readonly status = 401;
  constructor(readonly reason = 'Login failed') {
    super(reason);
  }
  body(): ErrorBody {
    return { error: 'not_authorized', reason: this.reason };
  }
}

/** 403: authenticated but lacking the tag or vhost permission. */
export class ForbiddenError extends QmigError {
  readonly status = 403;
  constructor(readonly reason: string) {
    super(reason);
  }
  body(): ErrorBody {
    return { error: 'forbidden', reason: this.reason };
  }
}

/** 404 as the spec writes it for unknown or undecodable migration ids. */
export class ObjectNotFoundError extends QmigError {
  readonly status = 404;
  constructor(readonly reason = 'Not Found') {
    super(reason);
  }
  body(): ErrorBody {
    return { error: 'Object Not Found', reason: this.reason };
  }
}

export class VhostNotFoundError extends QmigError {
  readonly status = 404;
  constructor(readonly vhost: string) {
    super(`vhost ${vhost} does not exist`);
  }
  body(): ErrorBody {
    return { error: 'Object Not Found', reason: `vhost '${this.vhost}' does not exist`, vhost: this.vhost };
  }
}

export class NoRollbackPendingError extends QmigError {
  readonly status = 404;
  constructor() {
    super('No rollback pending migration found');
  }
  body(): ErrorBody {
    return { error: 'No rollback pending migration found' };
  }
}

export class RouteNotFoundError extends QmigError {
  readonly status = 404;
  constructor(readonly path: string) {
    super(`no route ${path}`);
  }
  body(): ErrorBody {
    return { error: 'Object Not Found', reason: `No route for ${this.path}` };
  }
}

export class MethodNotAllowedError extends QmigError {
  readonly status = 405;
  constructor(readonly allowed: string[]) {
    super('method not allowed');
  }
  body(): ErrorBody {
    return { error: 'method_not_allowed', reason: `Allowed: ${this.allowed.join(', ')}` };
  }
  override headers(): Record<string, string> {
    return { Allow: this.allowed.join(', ') };
  }
}

export class MigrationInProgressError extends QmigError {
  readonly status = 409;
  constructor(readonly currentMigrationId: string | null) {
    super('Migration already in progress');
  }
  body(): ErrorBody {
    return { error: 'Migration already in progress', current_migration_id: this.currentMigrationId };
  }
}

/** 409: one transfer (xfer) at a time per cluster. */
export class TransferInProgressError extends QmigError {
  readonly status = 409;
  constructor(readonly currentTransferId: string | null) {
    super('Transfer already in progress');
  }
  body(): ErrorBody {
    return {
      error: 'Transfer already in progress',
      reason: `transfer ${this.currentTransferId ?? '(unknown)'} is running; one transfer at a time: wait for it or cancel it`,
      current_transfer_id: this.currentTransferId,
    };
  }
}

/** 409 would_not_fit: the plan's estimate of a start does not fit before its deadline (body `force: true` overrides). */
export class WouldNotFitError extends QmigError {
  readonly status = 409;
  constructor(
    readonly reason: string,
    readonly estimate: { seconds: number; low_seconds: number; high_seconds: number },
    readonly availableSeconds: number,
  ) {
    super(reason);
  }
  body(): ErrorBody {
    return { error: 'would_not_fit', reason: this.reason, estimate: this.estimate, available_seconds: this.availableSeconds };
  }
}

/**
 * 409 definitions_conflict: blue-green `POST bluegreen/definitions/:vhost` refused because the
 * target vhost already holds objects of the same name with another definition (nothing written).
 */
export class DefinitionsConflictError extends QmigError {
  readonly status = 409;
  constructor(
    readonly vhost: string,
    readonly conflicts: Array<{ kind: string; name: string; difference?: string }>,
  ) {
    super(`${conflicts.length} definition(s) of vhost '${vhost}' conflict with the target`);
  }
  body(): ErrorBody {
    const first = this.conflicts
      .slice(0, 3)
      .map((c) => `${c.kind.replace(/s$/, '')} '${c.name}' (${c.difference ?? 'differs'})`)
      .join('; ');
    return {
      error: 'definitions_conflict',
      reason: `the target already holds ${this.conflicts.length} object(s) of vhost '${this.vhost}' with another definition: ${first}${this.conflicts.length > 3 ? '; …' : ''}; nothing was written (conflicts are never overwritten: change or remove them on the target, then apply again)`,
      vhost: this.vhost,
      details: { conflicts: this.conflicts },
    };
  }
}

/** 409 bluegreen_in_progress: a drain of this vhost is active (started by any sidecar). */
export class BlueGreenInProgressError extends QmigError {
  readonly status = 409;
  constructor(
    readonly vhost: string,
    readonly currentDrainId: string | null,
  ) {
    super(`a blue-green drain of vhost '${vhost}' is in progress`);
  }
  body(): ErrorBody {
    return {
      error: 'bluegreen_in_progress',
      reason: `drain ${this.currentDrainId ?? '(being started)'} of vhost '${this.vhost}' is in progress: cut it over or cancel it first`,
      current_drain_id: this.currentDrainId,
    };
  }
}

/** 409 invalid_state: a drain's cut-over or cancel asked in a status that does not allow it. */
export class DrainStateError extends QmigError {
  readonly status = 409;
  constructor(
    readonly reason: string,
    readonly currentStatus: string,
  ) {
    super(reason);
  }
  body(): ErrorBody {
    return { error: 'invalid_state', reason: this.reason, status: this.currentStatus };
  }
}

/** 409 for a state transition that is not allowed from the current status. */
export class InvalidStateError extends QmigError {
  readonly status = 409;
  constructor(
    readonly reason: string,
    readonly currentStatus: string,
  ) {
    super(reason);
  }
  body(): ErrorBody {
    return { error: 'conflict', reason: this.reason, status: this.currentStatus };
  }
}

export class PayloadTooLargeError extends QmigError {
  readonly status = 413;
  constructor(readonly limit: number) {
    super('payload too large');
  }
  body(): ErrorBody {
    return { error: 'payload_too_large', reason: `Request body exceeds ${this.limit} bytes` };
  }
}

export class TooManyRequestsError extends QmigError {
  readonly status = 429;
  constructor(
    readonly retryAfterSeconds: number,
    readonly limit: 'user' | 'address' = 'address',
  ) {
    super('too many failed logins');
  }
  body(): ErrorBody {
    const what = this.limit === 'user' ? 'for this user name' : 'from this address';
    return { error: 'too_many_requests', reason: `Too many failed logins ${what}; retry in ${this.retryAfterSeconds} s` };
  }
  override headers(): Record<string, string> {
    return { 'Retry-After': String(this.retryAfterSeconds) };
  }
}

export class NotImplementedError extends QmigError {
  readonly status = 501;
  constructor(readonly reason: string) {
    super(reason);
  }
  body(): ErrorBody {
    return { error: 'not_implemented', reason: this.reason };
  }
}

/** The broker answered with something we cannot use (5xx, unexpected shape). */
export class BrokerError extends QmigError {
  readonly status = 502;
  constructor(readonly reason: string) {
    super(reason);
  }
  body(): ErrorBody {
    return { error: 'broker_error', reason: this.reason };
  }
}

/** The broker could not be reached at all. */
export class BrokerUnavailableError extends QmigError {
  readonly status = 503;
  constructor(readonly reason: string) {
    super(reason);
  }
  body(): ErrorBody {
    return { error: 'broker_unavailable', reason: this.reason };
  }
}

/** A broker request that the broker refused (4xx) where the caller expected success. */
export class BrokerRequestError extends Error {
  constructor(
    readonly status: number,
    readonly method: string,
    readonly path: string,
    readonly brokerReason: string,
  ) {
    super(`${method} ${path} -> ${status}: ${brokerReason}`);
    this.name = 'BrokerRequestError';
  }
}

/** A node snapshot (tar archive, EBS call or a peer sidecar) could not be taken or read. */
export class SnapshotFailedError extends QmigError {
  readonly status = 502;
  constructor(readonly reason: string) {
    super(reason);
  }
  body(): ErrorBody {
    return { error: 'snapshot_failed', reason: this.reason };
  }
}

/** A queue (of a migration or a transfer) that cannot go on, with what to tell the operator. */
export class QueueFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QueueFailure';
  }
}
