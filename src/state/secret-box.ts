/**
 * A secret qmig must keep in the broker to finish a job after a restart (today: a blue-green
 * drain's target administrator password), encrypted: global parameters are READABLE by any
 * policymaker on 3.10 (../shared/broker/NOTES.md), so a seal (integrity) is not enough.
 *
 *   {"v": 1, "iv": <base64 12 bytes>, "tag": <base64 16 bytes>, "data": <base64 ciphertext>}
 *
 * AES-256-GCM, with a key derived from QMIG_STATE_SECRET by HKDF-SHA256 (salt and info fixed to
 * this purpose, so the key is never the seal's HMAC key); the additional data binds the box to
 * where it is stored (e.g. the drain's parameter name): a box copied into another record does not
 * open. QMIG_STATE_SECRET_PREVIOUS opens old boxes (rotation); `open` says when the previous key
 * was needed, so the caller can write the box again under the current key.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

export interface SecretBoxValue {
  v: 1;
  iv: string;
  tag: string;
  data: string;
}

const SALT = 'qmig-secret-box-v1';
const INFO = 'qmig stored secret (AES-256-GCM)';

function deriveKey(secret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), SALT, INFO, 32));
}

export class SecretBox {
  private readonly keys: Buffer[];

  /** `current` encrypts and decrypts; `previous` (rotation) only decrypts. */
  constructor(current: string, previous?: string) {
    this.keys = [deriveKey(current), ...(previous ? [deriveKey(previous)] : [])];
  }

  seal(plaintext: string, boundTo: string): SecretBoxValue {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.keys[0], iv);
    cipher.setAAD(Buffer.from(boundTo, 'utf8'));
    const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return { v: 1, iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), data: data.toString('base64') };
  }

  /** The plaintext and whether it needed the previous key; null when no key opens it. */
  open(box: unknown, boundTo: string): { plaintext: string; stale: boolean } | null {
    if (!isBox(box)) return null;
    for (let i = 0; i < this.keys.length; i++) {
      try {
        const decipher = createDecipheriv('aes-256-gcm', this.keys[i], Buffer.from(box.iv, 'base64'));
        decipher.setAAD(Buffer.from(boundTo, 'utf8'));
        decipher.setAuthTag(Buffer.from(box.tag, 'base64'));
        const plaintext = Buffer.concat([decipher.update(Buffer.from(box.data, 'base64')), decipher.final()]).toString('utf8');
        return { plaintext, stale: i > 0 };
      } catch {
        // not this key
      }
    }
    return null;
  }
}

function isBox(v: unknown): v is SecretBoxValue {
  if (!v || typeof v !== 'object') return false;
  const b = v as Record<string, unknown>;
  return b.v === 1 && typeof b.iv === 'string' && typeof b.tag === 'string' && typeof b.data === 'string' && Buffer.from(b.tag, 'base64').length === 16;
}
