/**
 * The metrics of one sidecar, wired by src/sidecar.ts:
 *   const metrics = startMetrics(ctx, { transfers });
 *   createApp(ctx, { routesBeforeApi: [..., metrics.routesBeforeApi], localRoutes: [..., metrics.localRoutes] });
 *   … on close: metrics.stop();
 * Subscribes the metrics to the domain events (once per process), installs the broker latency
 * interceptors on ctx.mgmt and starts the engine observer.
 */
import type { LocalRoutes } from '../http/app.js';
import type { Context } from '../context.js';
import { instrumentBrokerClient } from './broker-instrumentation.js';
import { buildInfoRegistry, qmigVersion } from './build-info.js';
import { EngineObserver } from './engine-observer.js';
import { collectProcessMetrics } from './metrics.js';
import { checkResultsObserver, metricsRouter } from './router.js';
import { StateCollector, type TransferLister } from './state-collector.js';
import { subscribeMetrics } from './subscriptions.js';

export interface SidecarMetrics {
  /** Mount before the /api/queue-migration router (observes check answers). */
  routesBeforeApi: LocalRoutes;
  /** Mount with the local routes (GET /metrics). */
  localRoutes: LocalRoutes;
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
    routesBeforeApi: (app) => {
      app.use(checkResultsObserver);
    },
    localRoutes: (app, deps) => {
      const state = new StateCollector({ reader: deps.reader, live: ctx.live, transfers: options.transfers ?? null });
      const buildInfo = buildInfoRegistry({
        version: qmigVersion(),
        node: ctx.nodeName,
        clusterName: async () => String((await ctx.mgmt.overview()).cluster_name ?? ''),
      });
      app.use(metricsRouter(state, [buildInfo]));
    },
    stop: () => observer.stop(),
  };
}
