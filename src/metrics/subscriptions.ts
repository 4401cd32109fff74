/**
 * Metrics listen to the domain events (src/events/domain-events.ts): the engine, the broker layer
 * and the state layer report, and only this module turns reports into counters. Subscribed once
 * per process however many sidecars it runs (tests run several), so nothing is counted twice.
 */
import { domainEvents } from '../events/domain-events.js';
import { instrumentBrokerClient } from './broker-instrumentation.js';
import {
  recordDrainBacklog,
  recordDrainEnded,
  recordDrainStarted,
  recordPhaseDuration,
  recordShovelError,
  recordTransferFinished,
  recordTransferQueue,
  stateRejected,
} from './metrics.js';

let subscribed = false;

export function subscribeMetrics(): void {
  if (subscribed) return;
  subscribed = true;
  domainEvents.on('phase_finished', ({ phase, seconds }) => recordPhaseDuration(phase, seconds));
  domainEvents.on('shovel_error', ({ reason }) => recordShovelError(reason));
  domainEvents.on('state_rejected', ({ kind }) => stateRejected.inc({ kind }));
  domainEvents.on('transfer_finished', ({ status }) => recordTransferFinished(status));
  domainEvents.on('transfer_queue_finished', ({ outcome, moved }) => recordTransferQueue(outcome, moved));
  domainEvents.on('bluegreen_drain_started', () => recordDrainStarted());
  domainEvents.on('bluegreen_drain_sampled', ({ drain_id, source_messages, target_messages }) =>
    recordDrainBacklog(drain_id, source_messages, target_messages),
  );
  domainEvents.on('bluegreen_drain_ended', ({ drain_id, status }) => recordDrainEnded(drain_id, status));
  domainEvents.on('service_client_created', ({ http }) => instrumentBrokerClient(http));
}
