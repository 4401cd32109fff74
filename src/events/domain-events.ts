/**
 * What the engine, the broker layer and the state layer report as it happens, for whoever listens
 * (metrics today). Producers emit and never know who listens, so nothing below `metrics/` imports
 * it: metrics subscribes (src/metrics/subscriptions.ts). A listener that throws is caught and
 * ignored — reporting must never break the work it reports on.
 */
import { EventEmitter } from 'node:events';
import type { AxiosInstance } from 'axios';

export type ShovelErrorReason = 'terminated' | 'start_timeout' | 'timeout' | 'rounds_exhausted' | 'other';

export interface DomainEventMap {
  /** One step of one queue's migration ended, with its exact duration. */
  phase_finished: { phase: string; seconds: number };
  /** A shovel move failed. */
  shovel_error: { reason: ShovelErrorReason };
  /** Stored state failed verification and was not acted on. */
  state_rejected: { kind: string };
  /** A transfer ended (completed, failed, cancelled). */
  transfer_finished: { status: string };
  /** A transfer's queue ended; `moved` = messages the target gained. */
  transfer_queue_finished: { outcome: string; moved: number };
  /** A blue-green drain started: its shovels run. */
  bluegreen_drain_started: { drain_id: string; vhost: string; queues: number };
  /** A blue-green drain's monitor read both sides: messages left at the source, at the target. */
  bluegreen_drain_sampled: { drain_id: string; source_messages: number; target_messages: number };
  /** A blue-green drain ended (completed, cancelled, failed). */
  bluegreen_drain_ended: { drain_id: string; vhost: string; status: string };
  /** A management client of the service account was built (src/broker/service-clients.ts). */
  service_client_created: { http: AxiosInstance };
}

export type DomainEventName = keyof DomainEventMap;

class DomainEvents {
  private readonly emitter = new EventEmitter();
  private readonly seen = new Set<DomainEventName>();

  constructor() {
    this.emitter.setMaxListeners(50);
  }

  emit<K extends DomainEventName>(name: K, payload: DomainEventMap[K]): void {
    this.seen.add(name);
    for (const listener of this.emitter.listeners(name)) {
      try {
        (listener as (p: DomainEventMap[K]) => void)(payload);
      } catch {
        // reporting never breaks the work it reports on
      }
    }
  }

  on<K extends DomainEventName>(name: K, listener: (payload: DomainEventMap[K]) => void): () => void {
    this.emitter.on(name, listener);
    return () => this.emitter.off(name, listener);
  }

  /** True once an event of this name was emitted in this process. */
  hasSeen(name: DomainEventName): boolean {
    return this.seen.has(name);
  }
}

/** The process-wide event stream. */
export const domainEvents = new DomainEvents();
