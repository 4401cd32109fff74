/**
 * Failed logins, limited per user name AND per client address, with back-off instead of a lock,
 * on every path that checks credentials (qmig's API through src/http/auth.ts, the proxied
 * management API and UI through src/http/proxy-login-limit.ts). One instance per sidecar.
 *
 * - Per user name (from any address): the first `limit` failures in a row are free; after that
 *   each further attempt must wait 1 s, then 2 s, 4 s … at most 60 s after the previous failure
 *   (429 with Retry-After; the attempt never reaches the broker). Guessing one password is slowed
 *   to about one try a minute, however many addresses the guesser uses.
 * - Per address: the same back-off after `limit × ADDRESS_FACTOR` failures (a guesser trying many
 *   user names). It does not apply to a user name that logged in successfully from that address
 *   in the last TRUST_MS: one client mistyping (or attacking) behind a NAT or proxy does not lock
 *   out the operators already working from behind the same address, and after the wait anyone
 *   gets an attempt — nobody is locked out for good.
 * - Credentials that were verified within TRUST_MS pass every limit (they are proven; an attacker
 *   hammering that user name cannot lock its owner out). Only a hash of them is kept.
 * - Strikes are forgotten FORGET_MS after the last failure; a successful login clears its user
 *   name's strikes.
 * Every failure and every refusal is counted in src/metrics/login-metrics.ts.
 */
import { createHash } from 'node:crypto';
import { recordLoginFailure, recordLoginRefusal, type LoginPath } from '../metrics/login-metrics.js';

export type LimitKind = 'user' | 'address';

export interface LoginRefusal {
  limit: LimitKind;
  retryAfterSeconds: number;
}

interface Strikes {
  count: number;
  last: number;
}

/** The key of verified credentials (sha256 of user and password: the password is never kept). */
export function credentialKey(user: string, password: string): string {
  return createHash('sha256').update(user).update('\u0000').update(password).digest('hex');
}

export class LoginRateLimiter {
  static readonly ADDRESS_FACTOR = 5;
  static readonly MAX_DELAY_MS = 60_000;
  static readonly FORGET_MS = 15 * 60_000;
  static readonly TRUST_MS = 60 * 60_000;
  private static readonly MAX_ENTRIES = 100_000;

  private readonly strikes = new Map<string, Strikes>();
  /** `a:<address>\0<user>` and `c:<credential key>` → time of the last successful login. */
  private readonly trusted = new Map<string, number>();

  constructor(
    private readonly limit: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether these credentials logged in successfully within TRUST_MS. */
  isVerified(key: string): boolean {
    return this.isTrusted(`c:${key}`);
  }

  /** Null when an attempt of `user` (with credentials `key`) from `address` may be checked. */
  check(address: string, user: string, key: string, path: LoginPath): LoginRefusal | null {
    if (this.isTrusted(`c:${key}`)) return null;
    let refusal: LoginRefusal | null = null;
    const userWait = this.waitMs(`u:${user}`, this.limit);
    if (userWait > 0) refusal = { limit: 'user', retryAfterSeconds: Math.ceil(userWait / 1000) };
    else if (!this.isTrusted(`a:${address}\u0000${user}`)) {
      const addressWait = this.waitMs(`a:${address}`, this.limit * LoginRateLimiter.ADDRESS_FACTOR);
      if (addressWait > 0) refusal = { limit: 'address', retryAfterSeconds: Math.ceil(addressWait / 1000) };
    }
    if (refusal) recordLoginRefusal(path, refusal.limit);
    return refusal;
  }

  recordFailure(address: string, user: string, path: LoginPath): void {
    recordLoginFailure(path);
    for (const k of [`u:${user}`, `a:${address}`]) {
      const s = this.current(k) ?? { count: 0, last: 0 };
      this.strikes.set(k, { count: s.count + 1, last: this.now() });
    }
    if (this.strikes.size > LoginRateLimiter.MAX_ENTRIES) this.prune();
  }

  recordSuccess(address: string, user: string, key: string): void {
    this.strikes.delete(`u:${user}`);
    this.trusted.set(`c:${key}`, this.now());
    this.trusted.set(`a:${address}\u0000${user}`, this.now());
    if (this.trusted.size > LoginRateLimiter.MAX_ENTRIES) this.prune();
  }

  /** How long the next attempt on `k` must still wait (0: it may go). */
  private waitMs(k: string, free: number): number {
    const s = this.current(k);
    if (!s || s.count < free) return 0;
    const delay = Math.min(LoginRateLimiter.MAX_DELAY_MS, 1000 * 2 ** Math.min(16, s.count - free));
    return Math.max(0, s.last + delay - this.now());
  }

  private current(k: string): Strikes | undefined {
    const s = this.strikes.get(k);
    if (s && this.now() - s.last > LoginRateLimiter.FORGET_MS) {
      this.strikes.delete(k);
      return undefined;
    }
    return s;
  }

  private isTrusted(k: string): boolean {
    const at = this.trusted.get(k);
    if (at === undefined) return false;
    if (this.now() - at > LoginRateLimiter.TRUST_MS) {
      this.trusted.delete(k);
      return false;
    }
    return true;
  }

  private prune(): void {
    for (const k of [...this.strikes.keys()]) this.current(k);
    for (const k of [...this.trusted.keys()]) this.isTrusted(k);
    // Still too many (a flood of fresh names or addresses): forget the oldest half.
    for (const map of [this.strikes, this.trusted] as Map<string, unknown>[]) {
      if (map.size <= LoginRateLimiter.MAX_ENTRIES) continue;
      let drop = map.size / 2;
      for (const k of map.keys()) {
        if (drop-- <= 0) break;
        map.delete(k);
      }
    }
  }
}
