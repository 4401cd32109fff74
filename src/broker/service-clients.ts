/**
 * The sidecar's own clients of its broker, built from config with the service account: the only
 * place that knows which config fields make a management client or an AMQP pool.
 */
import type { Logger } from 'winston';
import type { Config } from '../config/config.js';
import { AmqpPool } from './amqp.js';
import { ManagementClient } from './management-client.js';
import { brokerTlsFiles } from './tls-options.js';
import { domainEvents } from '../events/domain-events.js';

/** A management client as the service account; `timeoutMs` defaults to QMIG_BROKER_TIMEOUT_MS. */
export function serviceManagementClient(config: Config, options: { timeoutMs?: number; log?: Logger } = {}): ManagementClient {
  const client = new ManagementClient({
    baseUrl: config.managementUrl,
    user: config.user,
    password: config.password,
    ...brokerTlsFiles(config),
    timeoutMs: options.timeoutMs ?? config.brokerTimeoutMs,
    ...(options.log ? { log: options.log } : {}),
  });
  domainEvents.emit('service_client_created', { http: client.http });
  return client;
}

/** The AMQP connections of the service account. */
export function serviceAmqpPool(config: Config): AmqpPool {
  return new AmqpPool({
    url: config.amqpUrl,
    user: config.user,
    password: config.password,
    ...brokerTlsFiles(config),
    connectionName: 'qmig',
  });
}
