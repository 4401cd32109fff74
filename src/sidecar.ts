/**
 * Composition root: config → broker clients and state (Context) → migration engine, transfer
 * service, housekeeping → HTTP app (qmig routes, peer snapshot routes, transfer routes, proxy) →
 * listening server. `close()` stops accepting, stops housekeeping, lets the engine and transfers
 * stop their background work, then closes the AMQP connections (which also frees any
 * cluster-wide lock this process held).
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from './config/config.js';
import { createContext, type Context } from './context.js';
import { BrokerUnavailableError } from './errors.js';
import { createApp, type LocalRoutes } from './http/app.js';
import { logger } from './logging.js';
import { MigrationService } from './migration/migration-service.js';
import type { MigrationEngine } from './migration/contract.js';
import { serviceManagementClient } from './broker/service-clients.js';
import { requireAdministrator } from './http/auth.js';
import { Housekeeper } from './migration/housekeeping.js';
import { peerSnapshotRouter } from './http/routes/peer-snapshots.js';
import { transferRouter } from './http/routes/transfers.js';
import { blueGreenRouter } from './http/routes/bluegreen.js';
import { checkResultsObserver, metricsRouter } from './http/routes/metrics.js';
import { queueMigrationUiRouter } from './http/routes/ui.js';
import { TransferService } from './transfer/transfer-service.js';
import { BlueGreenService } from './bluegreen/bluegreen-service.js';
import { DrainService } from './bluegreen/drain-service.js';
import { startMetrics } from './metrics/index.js';
import { verifyStateVhostAtStart } from './state/state-vhost.js';
import { answerMalformedRequests } from './http/malformed-requests.js';
import { createListener } from './http/listener.js';
import { sleep } from './async/concurrency.js';

export interface SidecarOptions {
  /** How long to wait for the broker at start before starting anyway with node 'unknown'. */
  brokerWaitMs?: number;
  /** Extra local routes (see src/http/app.ts). */
  localRoutes?: LocalRoutes[];
  /** Replaces the migration engine (tests). */
  engine?: (ctx: Context) => MigrationEngine;
  /** Resume orphaned migrations right after start (default true; housekeeping also does it later). */
  resumeOrphansAtStart?: boolean;
  /** Run scheduled housekeeping (QMIG_HOUSEKEEPING_CRON; default true). */
  housekeeping?: boolean;
}

export interface RunningSidecar {
  url: string;
  port: number;
  ctx: Context;
  engine: MigrationEngine;
  server: Server;
  close(): Promise<void>;
}

/** The broker node's name from /api/overview; 'unknown' if the broker stays unreachable. */
async function resolveNodeName(config: Config, waitMs: number): Promise<string> {
  const mgmt = serviceManagementClient(config, { timeoutMs: Math.min(config.brokerTimeoutMs, 5000) });
  const deadline = Date.now() + waitMs;
  for (let attempt = 1; ; attempt++) {
    try {
      const overview = await mgmt.overview();
      if (typeof overview.node === 'string') return overview.node;
      logger.warn('management /api/overview has no node field', {});
      return 'unknown';
    } catch (err) {
      const retry = err instanceof BrokerUnavailableError && Date.now() < deadline;
      logger.warn('cannot read the node name from the management API', { attempt, error: (err as Error).message, retrying: retry });
      if (!retry) return 'unknown';
      await sleep(500);
    }
  }
}

export async function startSidecar(config: Config, opts: SidecarOptions = {}): Promise<RunningSidecar> {
  const nodeName = await resolveNodeName(config, opts.brokerWaitMs ?? 5000);
  const ctx = createContext(config, nodeName);
  // The lock queues and the fence vault live there: created when missing, reserved to the service account.
  if (nodeName !== 'unknown') await verifyStateVhostAtStart(ctx.mgmt, config.stateVhost, config.user);
  const engine = opts.engine ? opts.engine(ctx) : new MigrationService(ctx);
  const transfers = new TransferService(ctx);
  const blueGreen = new BlueGreenService(ctx);
  // Blue-green drains: resumed below at start and by every sidecar on each housekeeping tick.
  const drains = new DrainService(ctx, blueGreen);
  // Broker latency interceptors, observer of the migrations run here, the gauges (src/metrics).
  const metrics = startMetrics(ctx, { transfers });
  // Every route is in src/http/routes.
  const { app, deps } = createApp(ctx, {
    engine,
    routesBeforeApi: [
      (a, deps) => a.use(peerSnapshotRouter(deps.ctx, { auth: deps.auth })),
      // Counts the system check results of the check answers (before the API router answers them).
      (a) => a.use(checkResultsObserver),
    ],
    apiRouters: [
      (deps) => transferRouter(deps.ctx, requireAdministrator, { service: transfers, scopeOf: (caller) => deps.auth.scopeOf(caller) }),
      // Blue-green (definitions first): administrator only, the transfer routes' gate.
      (deps) => blueGreenRouter(deps.ctx, requireAdministrator, { service: blueGreen, drains }),
    ],
    localRoutes: [
      ...(opts.localRoutes ?? []),
      // GET /metrics.
      (a, deps) => a.use(metricsRouter(metrics.registries(deps.reader))),
      // The Queue Migration page of the management UI: /api/extensions, /js/queue-migration*.
      (a) => a.use(queueMigrationUiRouter(ctx)),
    ],
  });
  const resumeDrains = () =>
    drains.resume().catch((err) => {
      logger.error('resuming blue-green drains failed', { error: (err as Error).message });
      return [];
    });
  const drainHousekeeping = () => drains.housekeeping().catch((err) => logger.error('blue-green drain housekeeping failed', { error: (err as Error).message }));
  const housekeeper = (opts.housekeeping ?? true) ? new Housekeeper(ctx, engine, [drainHousekeeping]) : null;

  // Plain HTTP, or HTTPS (mutual TLS) with certificates reloaded on change (src/http/listener.ts).
  const listener = createListener(app, config);
  const server = listener.server;
  answerMalformedRequests(server);
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.listenPort, config.listenHost, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = config.listenHost.includes(':') ? `[${config.listenHost}]` : config.listenHost === '0.0.0.0' ? '127.0.0.1' : config.listenHost;
  const url = `${listener.scheme}://${host}:${port}`;
  housekeeper?.start();
  logger.info('sidecar listening', { url, node: nodeName, management_url: String(config.managementUrl), instance: ctx.instanceId });

  let closing: Promise<void> | null = null;
  const close = () => {
    closing ??= (async () => {
      logger.info('sidecar stopping', { url });
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      listener.close();
      server.closeIdleConnections();
      await housekeeper?.stop().catch((err) => logger.error('housekeeping stop failed', { error: (err as Error).message }));
      await Promise.all([
        engine.shutdown().catch((err) => logger.error('engine shutdown failed', { error: (err as Error).message })),
        transfers.shutdown().catch((err) => logger.error('transfer shutdown failed', { error: (err as Error).message })),
        drains.shutdown().catch((err) => logger.error('drain shutdown failed', { error: (err as Error).message })),
      ]);
      // Requests still running get a moment to finish, then their connections are cut.
      const force = setTimeout(() => server.closeAllConnections(), 5000);
      await stopped;
      clearTimeout(force);
      metrics.stop();
      await ctx.amqp.close();
      deps.proxy.close();
      ctx.mgmt.http.defaults.httpAgent?.destroy?.();
      ctx.mgmt.http.defaults.httpsAgent?.destroy?.();
      logger.info('sidecar stopped', { url });
    })();
    return closing;
  };

  // Scheduled runs (start with not_before) are opened by any sidecar: arm their timers now.
  void engine.armSchedules?.().catch((err) => logger.error('arming scheduled runs failed', { error: (err as Error).message }));
  if (opts.resumeOrphansAtStart ?? true) {
    void resumeDrains();
    void (async () => {
      try {
        await engine.resumeOrphans();
      } catch (err) {
        logger.error('resuming orphaned migrations failed', { error: (err as Error).message });
      }
    })();
  }

  return { url, port, ctx, engine, server, close };
}
