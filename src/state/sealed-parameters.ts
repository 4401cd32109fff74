/**
 * Global runtime parameters written and read sealed (src/state/state-seal.ts). On 3.10 a
 * policymaker may write, read and delete any global parameter, so a value read here is returned
 * only when its seal verifies for its own name; anything else is reported (integrity-report.ts)
 * and answered as absent: never acted on.
 */
import type { ManagementClient } from '../broker/management-client.js';
import { reportRejected, type StateKind } from './integrity-report.js';
import type { StateSeal } from './state-seal.js';

export class SealedParameters {
  constructor(
    readonly mgmt: ManagementClient,
    readonly seal: StateSeal,
  ) {}

  async put(name: string, value: unknown): Promise<void> {
    await this.mgmt.putGlobalParameter(name, this.seal.seal(name, value));
  }

  /** The verified value, or null when absent or refused (reported). */
  async get<T>(kind: StateKind, name: string): Promise<T | null> {
    const p = await this.mgmt.globalParameter<unknown>(name);
    return p ? this.open<T>(kind, name, p.value) : null;
  }

  /** The stored JSON text (to compare with a previous read before parsing it), null when absent. */
  text(name: string): Promise<string | null> {
    return this.mgmt.globalParameterText(name);
  }

  /** Opens a stored value read by other means (text, a listing); null when refused (reported). */
  open<T>(kind: StateKind, name: string, stored: unknown): T | null {
    const opened = this.seal.open<T>(name, stored);
    if (opened.ok) return opened.value;
    reportRejected(kind, name, opened.reason, stored);
    return null;
  }

  delete(name: string): Promise<boolean> {
    return this.mgmt.deleteGlobalParameter(name);
  }

  /** Names of the global parameters starting with `prefix` (one listing, names only). */
  async names(prefix: string): Promise<string[]> {
    const params = await this.mgmt.ok<Array<{ name: string }>>('GET', '/global-parameters', undefined, { params: { columns: 'name' } });
    return params.map((p) => p.name).filter((n) => n.startsWith(prefix));
  }
}
