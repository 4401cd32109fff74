/**
 * The peer route every sidecar serves so the coordinating sidecar can have this node
 * snapshotted (src/snapshots/peer-snapshots.ts is the client side). Administrator only: the
 * coordinator calls it with the service account.
 *   POST /api/queue-migration/snapshots              {"migration_id"}   → 200 Snapshot of THIS node
 *   GET  /api/queue-migration/snapshots/in-progress                     → 200 NodeSnapshotActivity
 *   POST /api/queue-migration/snapshots/delete       {"snapshots":[…]} → 200 {"node","deleted":[ids]}
 *                                                     (only this node's snapshots are removed)
 * Mount it on the app BEFORE the /api/queue-migration router (whose unknown-path fallback
 * answers 404): `app.use(peerSnapshotRouter(ctx, { auth }))`. Paths not listed here fall through.
 */
import type { RequestHandler, Router } from 'express';
import type { Context } from '../../context.js';
import { BadRequestError, ForbiddenError } from '../../errors.js';
import { localSnapshotter } from '../../snapshots/index.js';
import { PEER_SNAPSHOTS_PATH } from '../../snapshots/peer-snapshots.js';
import { decodeMigrationId } from '../../state/migration-id.js';
import type { Snapshot } from '../../state/records.js';
import { Authenticator } from '../auth.js';
import { locals } from '../request-context.js';
import { parseJsonObject, rawBody, validateBody } from '../request-validation.js';
import { routesFromTable, type RouteSpec } from './route-table.js';

export interface PeerRouterOptions {
  /** The app's authenticator (shares its cache and failed-login limiter); a new one otherwise. */
  auth?: Authenticator;
}

export function peerSnapshotRouter(ctx: Context, options: PeerRouterOptions = {}): Router {
  const auth = options.auth ?? new Authenticator(ctx);
  const body = rawBody(ctx.config.bodyLimit);

  const administrator: RequestHandler = async (req, res, next) => {
    locals(res).accessLogLevel = 'info';
    const caller = await auth.authenticate(req);
    locals(res).caller = caller;
    if (!caller.tags.includes('administrator')) {
      throw new ForbiddenError(`user '${caller.user}' needs the administrator tag to manage node snapshots`);
    }
    next();
  };

  const snapshotter = () => {
    const s = localSnapshotter(ctx.config);
    if (!s) throw new BadRequestError(`snapshot mode is none on the sidecar of ${ctx.nodeName} (QMIG_SNAPSHOT_MODE)`);
    return s;
  };

  const routes: RouteSpec[] = [
    {
      method: 'POST',
      path: PEER_SNAPSHOTS_PATH,
      before: [administrator, body],
      async handler(req, res) {
        const { migration_id } = validateBody<{ migration_id: string }>('snapshot-request', parseJsonObject(req.body, req.get('content-type')));
        if (!decodeMigrationId(migration_id)) throw new BadRequestError('migration_id is not a qmig migration id');
        const snapshot: Snapshot = await snapshotter().take(ctx.nodeName, migration_id);
        res.json(snapshot);
      },
    },
    {
      method: 'GET',
      path: `${PEER_SNAPSHOTS_PATH}/in-progress`,
      before: [administrator],
      async handler(_req, res) {
        const s = localSnapshotter(ctx.config);
        res.json(s ? await s.activity(ctx.nodeName) : { node: ctx.nodeName, mode: 'none', volume_id: null, in_progress: [] });
      },
    },
    {
      method: 'POST',
      path: `${PEER_SNAPSHOTS_PATH}/delete`,
      before: [administrator, body],
      async handler(req, res) {
        const { snapshots } = validateBody<{ snapshots: Snapshot[] }>('snapshot-delete-request', parseJsonObject(req.body, req.get('content-type')));
        const s = snapshotter();
        const deleted: string[] = [];
        for (const snap of snapshots.filter((x) => x.node === ctx.nodeName)) {
          if (await s.remove(snap)) deleted.push(snap.snapshot_id);
        }
        res.json({ node: ctx.nodeName, deleted });
      },
    },
  ];
  return routesFromTable(routes);
}
