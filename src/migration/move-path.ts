/**
 * Which way a queue's messages are moved (broker-queue-actions.ts `move`): a queue holding fewer
 * than QMIG_SHOVEL_MIN_MESSAGES messages is moved by the sidecar over AMQP, others by a dynamic
 * shovel. One rule, read by the engine and by the plan's time model (estimate-model.ts).
 */
export type MovePath = 'sidecar' | 'shovel';

export function movePath(messages: number, shovelMinMessages: number): MovePath {
  return messages < shovelMinMessages ? 'sidecar' : 'shovel';
}
