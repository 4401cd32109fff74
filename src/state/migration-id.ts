/**
 * Migration ids: base64url of `qmig|<epoch ms>|<node>|<random>`. Decoding is strict so that an id
 * that cannot be one of ours is answered 404 without a broker round trip.
 */
import { randomBytes } from 'node:crypto';

const PAYLOAD = /^qmig\|(\d{13})\|([^|]{1,255})\|([0-9a-f]{16})$/;

export interface DecodedMigrationId {
  startedAtMs: number;
  node: string;
}

export function newMigrationId(node: string, now: Date = new Date()): string {
  const payload = `qmig|${String(now.getTime()).padStart(13, '0')}|${node}|${randomBytes(8).toString('hex')}`;
  return Buffer.from(payload, 'utf8').toString('base64url');
}

export function decodeMigrationId(id: string): DecodedMigrationId | null {
  if (!/^[A-Za-z0-9_-]{1,400}$/.test(id)) return null;
  const payload = Buffer.from(id, 'base64url').toString('utf8');
  if (Buffer.from(payload, 'utf8').toString('base64url') !== id) return null;
  const m = PAYLOAD.exec(payload);
  if (!m) return null;
  return { startedAtMs: Number(m[1]), node: m[2] };
}

export function displayId(vhost: string, startedAt: string, node: string): string {
  return `${vhost} (${startedAt}) on ${node}`;
}
