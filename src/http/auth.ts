/**
 * Who is calling and what may they do, for /api/queue-migration/*.
 *
 * Authentication: HTTP Basic, verified by the broker itself (`GET /api/whoami` with the caller's
 * credentials). Verified callers are cached for `config.authCacheSeconds` (at most 60 s) under a
 * sha256 of user+password — the password itself is never stored; a failed re-check drops the
 * entry. Failed logins are limited per user name and per address with back-off
 * (src/http/login-rate-limiter.ts, shared with the proxy) → 429.
 *
 * Authorization (README "Authorization"; nobody gets through qmig what they could not do by hand):
 * - read routes (status, rollback-pending, check, xfer lists): tag `monitoring` or
 *   `administrator`; a non-administrator sees only records of vhosts it has a permission on
 *   (its permissions are looked up with the service account and cached like the caller);
 * - changing routes (start, interrupt, POST status): `administrator`, or `policymaker` whose
 *   configure, write and read permissions on the vhost concerned are each exactly `.*`;
 * - a vhost the caller may not use answers 403 whether or not it exists (no existence oracle).
 */
import type { Request, RequestHandler } from 'express';
import { tagsOf, type Whoami } from '../broker/management-client.js';
import type { Context } from '../context.js';
import { BrokerError, ForbiddenError, NotAuthorizedError, TooManyRequestsError } from '../errors.js';
import type { Caller } from '../migration/contract.js';
import { vhostsOf, type MigrationRecord } from '../state/records.js';
import { credentialKey, LoginRateLimiter } from './login-rate-limiter.js';
import { hasTag } from '../migration/changer-rights.js';

// The authorization of changing routes lives with the engine (a scheduled run re-checks it when it opens).
export { requireChanger, requireChangerTag, requireRunChanger } from '../migration/changer-rights.js';
import { callerOf, locals } from './request-context.js';

export interface BasicCredentials {
  user: string;
  password: string;
}

/** Parses `Authorization: Basic …`; null when absent or not Basic. */
export function parseBasicAuth(header: string | undefined): BasicCredentials | null {
  if (!header) return null;
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!m) return null;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

interface CacheEntry {
  caller: Caller;
  expires: number;
}

interface VhostsEntry {
  vhosts: Promise<Set<string>>;
  expires: number;
}

/** A caller's vhosts as the read routes filter by: every vhost for administrators. */
export type VhostScope = { all: true } | { all: false; vhosts: Set<string> };

export class Authenticator {
  private readonly verified = new Map<string, CacheEntry>();
  private readonly vhostCache = new Map<string, VhostsEntry>();
  private readonly inFlight = new Map<string, Promise<Caller>>();
  constructor(
    private readonly ctx: Context,
    readonly limiter = new LoginRateLimiter(ctx.config.authFailureLimit),
  ) {}

  /** The verified caller of `req`, or throws 401 / 429 / 503. */
  async authenticate(req: Request): Promise<Caller> {
    const address = req.socket.remoteAddress ?? 'unknown';
    const creds = parseBasicAuth(req.get('authorization'));
    if (!creds) throw new NotAuthorizedError('Authentication required (HTTP Basic with RabbitMQ credentials)');
    const key = credentialKey(creds.user, creds.password);
    const cached = this.verified.get(key);
    if (cached && cached.expires > Date.now()) return cached.caller;
    const refusal = this.limiter.check(address, creds.user, key, 'api');
    if (refusal) throw new TooManyRequestsError(refusal.retryAfterSeconds, refusal.limit);
    try {
      const caller = await this.verifyOnce(key, creds);
      this.limiter.recordSuccess(address, creds.user, key);
      return caller;
    } catch (err) {
      if (err instanceof NotAuthorizedError) {
        this.limiter.recordFailure(address, creds.user, 'api');
        // A failed re-check (password changed, user deleted) forgets the caller at once.
        this.verified.delete(key);
        this.vhostCache.delete(creds.user);
      }
      throw err;
    }
  }

  /**
   * The vhosts `caller` may read records of: all for administrators, else the vhosts it has a
   * permission on (one broker read per user per cache period, like authentication).
   */
  async scopeOf(caller: Caller): Promise<VhostScope> {
    if (hasTag(caller, 'administrator')) return { all: true };
    const now = Date.now();
    let entry = this.vhostCache.get(caller.user);
    if (!entry || entry.expires <= now) {
      const vhosts = this.ctx.mgmt.userPermissions(caller.user).then((perms) => new Set(perms.map((p) => p.vhost)));
      entry = { vhosts, expires: now + Math.max(0, this.ctx.config.authCacheSeconds) * 1000 };
      this.vhostCache.set(caller.user, entry);
      vhosts.catch(() => {
        if (this.vhostCache.get(caller.user) === entry) this.vhostCache.delete(caller.user);
      });
      if (this.vhostCache.size > 10_000) this.vhostCache.clear();
    }
    return { all: false, vhosts: await entry.vhosts };
  }

  /** One broker round trip per credentials at a time, however many requests wait for it. */
  private verifyOnce(key: string, creds: BasicCredentials): Promise<Caller> {
    let p = this.inFlight.get(key);
    if (!p) {
      p = this.verify(creds).then((caller) => {
        const ttl = this.ctx.config.authCacheSeconds * 1000;
        if (ttl > 0) {
          this.pruneExpired();
          this.verified.set(key, { caller, expires: Date.now() + ttl });
        }
        return caller;
      });
      const cleanup = () => this.inFlight.delete(key);
      p.then(cleanup, cleanup);
      this.inFlight.set(key, p);
    }
    return p;
  }

  private async verify(creds: BasicCredentials): Promise<Caller> {
    // The service-account client with the caller's credentials for this one request.
    const res = await this.ctx.mgmt.request<Whoami>('GET', '/whoami', undefined, { auth: { username: creds.user, password: creds.password } });
    // 400/431…: credentials the broker cannot even read (e.g. kilobytes long) are a failed login too.
    if (res.status >= 400 && res.status < 500 && res.status !== 429) throw new NotAuthorizedError('Login failed');
    if (res.status >= 400 || !res.data || typeof res.data.name !== 'string') {
      throw new BrokerError(`the broker answered ${res.status} to /api/whoami`);
    }
    return { user: res.data.name, tags: tagsOf(res.data) };
  }

  private pruneExpired(): void {
    if (this.verified.size < 10_000) return;
    const now = Date.now();
    for (const [k, v] of this.verified) if (v.expires <= now) this.verified.delete(k);
  }
}

/** Read routes: monitoring or administrator. */
export function requireReader(caller: Caller): void {
  if (!hasTag(caller, 'monitoring', 'administrator')) {
    throw new ForbiddenError(`user '${caller.user}' needs the monitoring or administrator tag`);
  }
}

/** True when `scope` covers `vhost`. */
export function inScope(scope: VhostScope, vhost: string): boolean {
  return scope.all || scope.vhosts.has(vhost);
}

/** A run is shown to a caller only when every vhost it covers is in the caller's scope. */
export function runInScope(scope: VhostScope, r: Pick<MigrationRecord, 'vhost' | 'vhosts'>): boolean {
  return vhostsOf(r).every((v) => inScope(scope, v));
}

/** Read routes on one vhost: 403 when the caller has no permission there, existing or not. */
export function requireVhostAccess(caller: Caller, scope: VhostScope, vhost: string): void {
  if (!inScope(scope, vhost)) throw new ForbiddenError(`user '${caller.user}' has no access to vhost '${vhost}'`);
}

/** Express middleware: authenticates the caller (401/429/503) and puts it in res.locals.caller. */
export function authenticateMiddleware(auth: Authenticator): RequestHandler {
  return async (req, res, next) => {
    locals(res).accessLogLevel = 'info';
    locals(res).caller ??= await auth.authenticate(req);
    next();
  };
}

/** Express middleware for routes that only administrators may use (after authentication). */
export const requireAdministrator: RequestHandler = (_req, res, next) => {
  const caller = callerOf(res);
  if (!hasTag(caller, 'administrator')) throw new ForbiddenError(`user '${caller.user}' needs the administrator tag`);
  next();
};

/** Express middleware for read routes (after authentication): monitoring or administrator. */
export const requireReaderMiddleware: RequestHandler = (_req, res, next) => {
  requireReader(callerOf(res));
  next();
};
