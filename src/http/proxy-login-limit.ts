/**
 * The failed-login limiter (login-rate-limiter.ts) on the proxied paths: the management API and
 * UI check credentials themselves, so without this anyone could guess passwords through the
 * sidecar at full speed. A proxied request with Basic credentials is refused (429) while its user
 * name or address backs off; the broker's answer then tells the outcome: 401 with credentials not
 * proven before is a failed login, any other answer proves them. (The broker also answers 401 to
 * a valid user lacking a tag for the path, e.g. `management` on /api/nodes: once proven, such
 * credentials are not counted as failures.) Requests without credentials (UI assets) pass.
 */
import type { Request } from 'express';
import { TooManyRequestsError } from '../errors.js';
import { parseBasicAuth } from './auth.js';
import { credentialKey, type LoginRateLimiter } from './login-rate-limiter.js';

export interface ProxyLoginLimit {
  /** The refusal to answer instead of forwarding, or null. */
  refusal(req: Request): TooManyRequestsError | null;
  /** Records what the broker's status says about the request's credentials. */
  answered(req: Request, status: number): void;
}

export function proxyLoginLimit(limiter: LoginRateLimiter): ProxyLoginLimit {
  const attempt = (req: Request) => {
    const creds = parseBasicAuth(req.get('authorization'));
    if (!creds) return null;
    return { address: req.socket.remoteAddress ?? 'unknown', user: creds.user, key: credentialKey(creds.user, creds.password) };
  };
  return {
    refusal(req) {
      const a = attempt(req);
      const refused = a && limiter.check(a.address, a.user, a.key, 'proxy');
      return refused ? new TooManyRequestsError(refused.retryAfterSeconds, refused.limit) : null;
    },
    answered(req, status) {
      const a = attempt(req);
      if (!a) return;
      if (status === 401) {
        if (!limiter.isVerified(a.key)) limiter.recordFailure(a.address, a.user, 'proxy');
      } else if (status < 500) {
        limiter.recordSuccess(a.address, a.user, a.key);
      }
    },
  };
}
