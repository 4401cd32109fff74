/**
 * `qmig_build_info{version, rabbitmq_node, rabbitmq_cluster} 1`: which qmig runs beside which
 * node of which cluster. The node and cluster labels are named like those of the broker's own
 * `rabbitmq_identity_info`, so dashboards and alerts can join the two series on them. The cluster
 * name is read from /api/overview at scrape time, cached (it rarely changes); until it could be
 * read once the label is "unknown".
 */
import { readFileSync } from 'node:fs';
import { Gauge, Registry } from 'prom-client';

/** qmig's version from package.json (two levels up from src/metrics and from dist/metrics). */
export function qmigVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

export interface BuildInfoSource {
  version: string;
  node: string;
  /** The broker's cluster_name (GET /api/overview). */
  clusterName(): Promise<string>;
  /** How long a cluster name read is reused (default 60 s). */
  cacheMs?: number;
}

export function buildInfoRegistry(source: BuildInfoSource): Registry {
  const registry = new Registry();
  const cacheMs = source.cacheMs ?? 60_000;
  let cluster = 'unknown';
  let readAt = -Infinity;
  new Gauge({
    name: 'qmig_build_info',
    help: 'Always 1: the qmig version of this sidecar, the RabbitMQ node beside it and its cluster name (labels as in rabbitmq_identity_info, to join on).',
    labelNames: ['version', 'rabbitmq_node', 'rabbitmq_cluster'] as const,
    registers: [registry],
    async collect() {
      if (Date.now() - readAt >= cacheMs) {
        try {
          const name = await source.clusterName();
          if (name) cluster = name;
          readAt = Date.now();
        } catch {
          // keep the previous name; the next scrape tries again
        }
      }
      this.reset();
      this.set({ version: source.version, rabbitmq_node: source.node, rabbitmq_cluster: cluster }, 1);
    },
  });
  return registry;
}
