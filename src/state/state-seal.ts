/**
 * Authenticated state: everything the sidecars act on and keep where a non-administrator can
 * write (global parameters: migration records, queue chunks, interrupt flags, transfer records,
 * cancel requests) or read (the fence vault's queue arguments) is stored SEALED:
 *
 *   {"qmig_seal": 1, "mac": "<hex HMAC-SHA256>", "data": <the value>}
 *
 * The MAC covers the canonical JSON (src/broker/canonical-json.ts: keys sorted) of
 * ["qmig-state-v1", <parameter or queue name>, <value>] — binding the value to its name, so a
 * sealed value copied under another name (another migration's record or flag) does not verify.
 * The key is QMIG_STATE_SECRET, which only the sidecars hold; QMIG_STATE_SECRET_PREVIOUS is
 * accepted for verification only, so that a key can be rotated without a window in which the
 * other sidecars' records fail (see README "State secret").
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { canonical } from '../broker/canonical-json.js';

const DOMAIN = 'qmig-state-v1';

export interface SealedValue {
  qmig_seal: 1;
  mac: string;
  data: unknown;
}

export type Opened<T> = { ok: true; value: T } | { ok: false; reason: string };

export class StateSeal {
  private readonly keys: Buffer[];

  /** `current` signs and verifies; `previous` (rotation) only verifies. */
  constructor(current: string, previous?: string) {
    this.keys = [Buffer.from(current, 'utf8'), ...(previous ? [Buffer.from(previous, 'utf8')] : [])];
  }

  /**
   * The sealed form of `value` as it is now: `data` is a copy in its JSON form, so that a value
   * the caller keeps changing (a running migration's queue records) cannot drift from its MAC
   * before the request body is serialized — axios does that only after its asynchronous request
   * interceptors (the broker-latency metrics), or again on a retry. A live reference once stored
   * a chunk whose seal no longer verified, and its killed migration could not be resumed.
   */
  seal(name: string, value: unknown): SealedValue {
    const data: unknown = value === undefined ? null : JSON.parse(JSON.stringify(value));
    return { qmig_seal: 1, mac: this.mac(this.keys[0], name, data), data };
  }

  /** The value inside a stored sealed value, or why it cannot be trusted. */
  open<T>(name: string, stored: unknown): Opened<T> {
    if (!isSealed(stored))
      return { ok: false, reason: 'not sealed (written without QMIG_STATE_SECRET: by hand, by another program or by qmig before state was authenticated)' };
    const given = Buffer.from(stored.mac, 'hex');
    for (const key of this.keys) {
      const expected = Buffer.from(this.mac(key, name, stored.data), 'hex');
      if (given.length === expected.length && timingSafeEqual(given, expected)) return { ok: true, value: stored.data as T };
    }
    return { ok: false, reason: 'seal does not verify (forged, altered, copied from another name, or sealed with another QMIG_STATE_SECRET)' };
  }

  private mac(key: Buffer, name: string, value: unknown): string {
    return createHmac('sha256', key)
      .update(JSON.stringify(canonical([DOMAIN, name, value])))
      .digest('hex');
  }
}

function isSealed(v: unknown): v is SealedValue {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return false;
  const s = v as Record<string, unknown>;
  return s.qmig_seal === 1 && typeof s.mac === 'string' && /^[0-9a-f]{64}$/.test(s.mac) && 'data' in s;
}
