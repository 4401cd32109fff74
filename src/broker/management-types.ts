/**
 * The shapes of the management API's answers that qmig reads (RabbitMQ 3.10; fields the broker
 * may leave out are optional). Re-exported by management-client.ts, whose calls answer them.
 */
export interface BrokerQueue {
  name: string;
  vhost: string;
  type?: string;
  durable: boolean;
  auto_delete: boolean;
  exclusive?: boolean;
  owner_pid_details?: unknown;
  arguments: Record<string, unknown>;
  node?: string;
  leader?: string;
  members?: string[];
  /** Quorum queues: the members whose replica runs now. */
  online?: string[];
  slave_nodes?: string[];
  synchronised_slave_nodes?: string[];
  policy?: string | null;
  operator_policy?: string | null;
  effective_policy_definition?: Record<string, unknown> | null;
  messages?: number;
  messages_ready?: number;
  messages_unacknowledged?: number;
  message_bytes?: number;
  consumers?: number;
  state?: string;
}

export interface BrokerBinding {
  source: string;
  vhost: string;
  destination: string;
  destination_type: 'queue' | 'exchange';
  routing_key: string;
  arguments: Record<string, unknown>;
  properties_key: string;
}

export interface BrokerNode {
  name: string;
  running: boolean;
  mem_used?: number;
  mem_limit?: number;
  mem_alarm?: boolean;
  disk_free?: number;
  disk_free_limit?: number;
  disk_free_alarm?: boolean;
  partitions?: string[];
  uptime?: number;
}

export interface BrokerVhost {
  name: string;
  default_queue_type?: string;
  tracing?: boolean;
}

export interface BrokerExchange {
  name: string;
  vhost: string;
  type: string;
  durable: boolean;
  auto_delete: boolean;
  internal: boolean;
  arguments: Record<string, unknown>;
}

export interface BrokerPolicy {
  vhost: string;
  name: string;
  pattern: string;
  'apply-to': string;
  definition: Record<string, unknown>;
  priority: number;
}

export interface Whoami {
  name: string;
  tags: string[] | string;
}

export interface Permission {
  user: string;
  vhost: string;
  configure: string;
  write: string;
  read: string;
}

export interface BrokerShovel {
  name: string;
  vhost: string;
  type: string;
  state: string;
  node?: string;
  reason?: string;
  /** When the worker last reported (node-local time, `YYYY-MM-DD H:MM:SS`). */
  timestamp?: string;
  src_queue?: string;
}
