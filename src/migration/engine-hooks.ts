/**
 * What the engine lets test code observe or delay: before each step of a queue, when a shovel is
 * created, and at run-level points (test/reliability kills or hangs a sidecar there). Never set on
 * a migration run in production; the plan's calibration probe (calibration-probe.ts) sets
 * `beforeStep` on its own throw-away queues only, to time their steps.
 */
import type { MoveDirection } from '../broker/names.js';
import type { QueueStep } from '../state/records.js';

export interface EngineHooks {
  beforeStep?(info: { migrationId: string; queue: string; step: QueueStep }): void | Promise<void>;
  onShovelCreated?(info: { migrationId: string; queue: string; shovel: string; direction: MoveDirection }): void | Promise<void>;
  /**
   * Run-level points (test/reliability kills a sidecar there): `validating` (lock held, no record
   * yet; migrationId null), `before_fence` (record saved, nothing touched), `fence_revoked` (after
   * each permission revoked; `user`), `permission_restored` (after each one put back; `user`).
   */
  atPoint?(info: {
    migrationId: string | null;
    point: 'validating' | 'before_fence' | 'fence_revoked' | 'permission_restored';
    user?: string;
  }): void | Promise<void>;
}
