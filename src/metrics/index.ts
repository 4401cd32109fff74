/**
 * The metrics of one sidecar, wired by src/sidecar.ts:
 *   const metrics = startMetrics(ctx, { transfers });
 *   GET /metrics (src/http/routes/metrics.ts) exposes metrics.registries(reader);
 *   … on close: metrics.stop();
 * Subscribes the metrics to the domain events (once per process), installs the broker latency
 * interceptors on ctx.mgmt and starts the engine observer. Knows nothing of HTTP: the routes
 * that expose and feed it live in src/http/routes/metrics.ts.
 */
import type { Registry } from 'prom-client';
import type { Context } from '../context.js';
import { instrumentBrokerClient } from './broker-instrumentation.js';
import { buildInfoRegistry, qmigVersion } from './build-info.js';
import { EngineObserver } from './engine-observer.js';
import { collectProcessMetrics } from './metrics.js';
import { StateCollector, type StateSources, type TransferLister } from './state-collector.js';
import { subscribeMetrics } from './subscriptions.js';

export interface SidecarMetrics {
  /**
   * The registries GET /metrics exposes beside the process's own: the state gauges, read through
   * `reader`, and the build info. Call once (each call makes a new state collector).
   */
  registries(reader: StateSources['reader']): Registry[];
  stop(): void;
}

export interface MetricsOptions {
  transfers?: TransferLister | null;
  /** Sampling interval of running migrations (ms). */
  observerIntervalMs?: number;
}

export function startMetrics(ctx: Context, options: MetricsOptions = {}): SidecarMetrics {
  collectProcessMetrics();
  subscribeMetrics();
  instrumentBrokerClient(ctx.mgmt.http);
  const observer = new EngineObserver(ctx.live, { intervalMs: options.observerIntervalMs }).start();
  return {
    registries: (reader) => {
      const state = new StateCollector({ reader, live: ctx.live, transfers: options.transfers ?? null });
      const buildInfo = buildInfoRegistry({
        version: qmigVersion(),
        node: ctx.nodeName,
        clusterName: async () => String((await ctx.mgmt.overview()).cluster_name ?? ''),
      });
      return [state.registry, buildInfo];
    },
    stop: () => observer.stop(),
  };
}
