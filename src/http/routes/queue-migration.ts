/**
 * /api/queue-migration/* — the contract of ../shared/spec/HTTP_API.md, route by route.
 * Every route: reject `.`/`..`/empty segments (400, src/http/path-segments.ts) → authenticate
 * (401/429/503) → authorize by tag (403) → read and validate the body (400/413) → authorize on
 * the vhost (403, whether or not it exists) → resolve the target (404) → act. Records of vhosts
 * the caller has no permission on are not listed, and answer 404 like unknown ids.
 */
import type { Request, Router } from 'express';
import type { Context } from '../../context.js';
import { runCheck, runCheckAll } from '../../checks/assessment.js';
import { gatherReadiness, judgeReadiness } from '../../checks/readiness.js';
import { stripMirroringKeys } from '../../checks/readiness-strip.js';
import {
  BadRequestError,
  ForbiddenError,
  InvalidStateError,
  NoRollbackPendingError,
  NotImplementedError,
  ObjectNotFoundError,
  VhostNotFoundError,
} from '../../errors.js';
import type { MigrationEngine } from '../../migration/contract.js';
import { decodeMigrationId } from '../../state/migration-id.js';
import type { MigrationReader } from '../../state/migration-reader.js';
import { presentMigration, presentMigrationDetail } from '../presenters.js';
import { isActiveStatus, type MigrationRecord } from '../../state/records.js';
import {
  authenticateMiddleware,
  inScope,
  requireChanger,
  requireChangerTag,
  requireReader,
  requireRunChanger,
  requireVhostAccess,
  runInScope,
  type Authenticator,
} from '../auth.js';
import { callerOf } from '../request-context.js';
import { hasTag } from '../../migration/changer-rights.js';
import { PLAN_PROBE_VHOST_PREFIX } from '../../broker/names.js';
import { DetailBodies } from '../detail-serializer.js';
import { parseJsonObject, rawBody, validateBody } from '../request-validation.js';
import { toCheckOptions, toMigrationOptions, type CheckRequestBody, type StartRequestBody } from '../start-options.js';
import { routerFromTable, type RouteSpec } from './route-table.js';

interface RepairRequestBody {
  queue_names?: string[];
  reason?: string;
}

interface RollbackRequestBody {
  queue_names?: string[];
  tolerance?: number;
  reason?: string;
}

export interface QueueMigrationDeps {
  ctx: Context;
  engine: MigrationEngine;
  reader: MigrationReader;
  auth: Authenticator;
  /** More routers under /api/queue-migration (after authentication, before the 404 fallback). */
  extensions?: Router[];
}

/** `?recalibrate=true|false` (absent: false); anything else is a 400. */
function recalibrateFlag(value: unknown): boolean {
  if (value === undefined || value === 'false') return false;
  if (value === 'true') return true;
  throw new BadRequestError('recalibrate must be true or false');
}

export function queueMigrationRouter({ ctx, engine, reader, auth, extensions = [] }: QueueMigrationDeps) {
  const body = rawBody(ctx.config.bodyLimit);

  async function ensureVhost(vhost: string): Promise<void> {
    if (!(await ctx.mgmt.vhost(vhost))) throw new VhostNotFoundError(vhost);
  }

  /** The record as it is now; 404 for an undecodable or unknown id. */
  async function currentRecord(id: string): Promise<MigrationRecord> {
    if (!decodeMigrationId(id)) throw new ObjectNotFoundError();
    const record = await reader.current(id);
    if (!record) throw new ObjectNotFoundError();
    return record;
  }

  /** Every vhost the caller may change, by name (start-many's "all"). */
  /** The body of start-many and plan-many: `vhosts`, the rest validated as a start body. */
  function manyBody(req: Request): { vhosts: string[] | 'all'; body: StartRequestBody } {
    const { vhosts, ...rest } = validateBody<{ vhosts: string[] | 'all' } & StartRequestBody>(
      'start-many-request',
      parseJsonObject(req.body, req.get('content-type')),
    );
    return { vhosts, body: validateBody<StartRequestBody>('start-request', rest) };
  }

  async function changeableVhosts(caller: ReturnType<typeof callerOf>): Promise<string[]> {
    const scope = await auth.scopeOf(caller);
    const names = (await ctx.mgmt.vhosts())
      .map((v) => v.name)
      .filter((v) => inScope(scope, v))
      .sort();
    const allowed: string[] = [];
    for (const vhost of names) {
      try {
        await requireChanger(ctx, caller, vhost);
        allowed.push(vhost);
      } catch (err) {
        if (!(err instanceof ForbiddenError)) throw err;
      }
    }
    return allowed;
  }

  // GET status/:id is the hot path of pollers: serialize once per view, large ones without stalling.
  const details = new DetailBodies();

  /** POST …/:id starting a run over an ended migration's queues; answers its id and the link. */
  function followUpRoute<B>(
    path: string,
    schema: string,
    link: 'rollback_of' | 'repair_of',
    start: (record: MigrationRecord, body: B, caller: ReturnType<typeof callerOf>) => Promise<{ migration_id: string }>,
  ): RouteSpec {
    return {
      method: 'POST',
      path,
      before: [body],
      async handler(req, res) {
        const caller = callerOf(res);
        requireChangerTag(caller);
        const b = validateBody<B>(schema, parseJsonObject(req.body, req.get('content-type')));
        const id = String(req.params.id);
        const record = await currentRecord(id);
        await requireRunChanger(ctx, caller, record);
        const { migration_id } = await start(record, b, caller);
        reader.invalidate(migration_id);
        reader.invalidate(id);
        details.forget(id);
        res.json({ migration_id, status: 'started', [link]: id });
      },
    };
  }

  const routes: RouteSpec[] = [
    {
      method: 'POST',
      path: '/check/:vhost',
      before: [body],
      async handler(req, res) {
        const caller = callerOf(res);
        requireReader(caller);
        const options = toCheckOptions(validateBody<CheckRequestBody>('check-request', parseJsonObject(req.body, req.get('content-type'))));
        const vhost = String(req.params.vhost);
        const scope = await auth.scopeOf(caller);
        if (vhost === 'all') {
          res.json(await runCheckAll(ctx, options, (v) => inScope(scope, v)));
          return;
        }
        requireVhostAccess(caller, scope, vhost);
        await ensureVhost(vhost);
        res.json(await runCheck(ctx, vhost, options));
      },
    },
    // qmig's own: the 4.x readiness report of a vhost, and its opt-in action on mirroring policies.
    {
      method: 'GET',
      path: '/readiness/:vhost',
      async handler(req, res) {
        const caller = callerOf(res);
        requireReader(caller);
        const vhost = String(req.params.vhost);
        requireVhostAccess(caller, await auth.scopeOf(caller), vhost);
        await ensureVhost(vhost);
        res.json(judgeReadiness(await gatherReadiness(ctx.mgmt, vhost)));
      },
    },
    {
      method: 'POST',
      path: '/readiness/:vhost/strip-mirroring-keys',
      before: [body],
      async handler(req, res) {
        const caller = callerOf(res);
        requireChangerTag(caller);
        const b = validateBody<{ policies: string[] }>('strip-mirroring-keys-request', parseJsonObject(req.body, req.get('content-type')));
        const vhost = String(req.params.vhost);
        await requireChanger(ctx, caller, vhost);
        await ensureVhost(vhost);
        res.json({ vhost, policies: await stripMirroringKeys(ctx, vhost, b.policies, caller.user) });
      },
    },
    // qmig's own: what a start with the same body would do, with its calibrated estimate. Changes
    // nothing on the vhost, so authorized like check (a reader of the vhost); `all`: every vhost
    // in the caller's scope that has mirrored queues. ?recalibrate=true runs a new probe.
    ...['/plan', '/plan/:vhost'].map((path): RouteSpec => ({
      method: 'POST',
      path,
      before: [body],
      async handler(req, res) {
        const caller = callerOf(res);
        requireReader(caller);
        const options = toMigrationOptions(validateBody<StartRequestBody>('start-request', parseJsonObject(req.body, req.get('content-type'))));
        const recalibrate = recalibrateFlag(req.query.recalibrate);
        if (!engine.plan || !engine.planAll) throw new NotImplementedError('this engine makes no plans');
        const vhost = req.params.vhost === undefined ? '/' : String(req.params.vhost);
        const scope = await auth.scopeOf(caller);
        if (vhost === 'all') {
          res.json(await engine.planAll(options, (v) => inScope(scope, v), recalibrate));
          return;
        }
        requireVhostAccess(caller, scope, vhost);
        await ensureVhost(vhost);
        res.json(await engine.plan(vhost, options, recalibrate));
      },
    })),
    // qmig's own: the plan of a start-many with the same body (its vhosts in that order).
    {
      method: 'POST',
      path: '/plan-many',
      before: [body],
      async handler(req, res) {
        const caller = callerOf(res);
        requireReader(caller);
        const { vhosts, body: b } = manyBody(req);
        const options = toMigrationOptions(b);
        const recalibrate = recalibrateFlag(req.query.recalibrate);
        if (!engine.planMany) throw new NotImplementedError('this engine makes no plans');
        const scope = await auth.scopeOf(caller);
        if (vhosts === 'all') {
          // The vhosts start-many "all" would take for this caller (those it may change); a reader
          // that may change none: those it may read.
          const names = hasTag(caller, 'administrator', 'policymaker')
            ? await changeableVhosts(caller)
            : (await ctx.mgmt.vhosts())
                .map((v) => v.name)
                .filter((v) => inScope(scope, v))
                .sort();
          res.json(
            await engine.planMany(
              names.filter((v) => !v.startsWith(PLAN_PROBE_VHOST_PREFIX)),
              true,
              options,
              recalibrate,
            ),
          );
          return;
        }
        for (const vhost of vhosts) requireVhostAccess(caller, scope, vhost);
        for (const vhost of vhosts) await ensureVhost(vhost);
        res.json(await engine.planMany(vhosts, false, options, recalibrate));
      },
    },
    ...['/start', '/start/:vhost'].map((path): RouteSpec => ({
      method: 'POST',
      path,
      before: [body],
      async handler(req, res) {
        const caller = callerOf(res);
        requireChangerTag(caller);
        const b = validateBody<StartRequestBody>('start-request', parseJsonObject(req.body, req.get('content-type')));
        const options = toMigrationOptions(b);
        const vhost = req.params.vhost === undefined ? '/' : String(req.params.vhost);
        // Authorization first: 403 for a vhost the caller may not change, whether it exists or not.
        await requireChanger(ctx, caller, vhost);
        await ensureVhost(vhost);
        const { migration_id } = await engine.start(vhost, options, caller, { force: b.force === true });
        reader.invalidate(migration_id);
        // The spec's answer, also for a start with not_before (its record says `scheduled`).
        res.json({ migration_id, status: 'started' });
      },
    })),
    // qmig's own: one run over several vhosts (the spec's start takes one vhost, from the path).
    {
      method: 'POST',
      path: '/start-many',
      before: [body],
      async handler(req, res) {
        const caller = callerOf(res);
        requireChangerTag(caller);
        const { vhosts, body: b } = manyBody(req);
        const options = toMigrationOptions(b);
        let target: string[] | { all: string[] };
        if (vhosts === 'all') {
          target = { all: await changeableVhosts(caller) };
        } else {
          // Authorization first, each vhost: 403 for one the caller may not change, whether it exists or not.
          for (const vhost of vhosts) await requireChanger(ctx, caller, vhost);
          for (const vhost of vhosts) await ensureVhost(vhost);
          target = vhosts;
        }
        const { migration_id } = await engine.startMany(target, options, caller, { force: b.force === true });
        reader.invalidate(migration_id);
        res.json({ migration_id, status: 'started' });
      },
    },
    {
      method: 'GET',
      path: '/status',
      async handler(_req, res) {
        const caller = callerOf(res);
        requireReader(caller);
        const scope = await auth.scopeOf(caller);
        const records = (await reader.listRecords()).filter((r) => runInScope(scope, r));
        res.json({
          status: records.some((r) => isActiveStatus(r.status)) ? 'in_progress' : 'not_running',
          migrations: records.map(presentMigration),
        });
      },
    },
    {
      method: 'GET',
      path: '/status/:id',
      async handler(req, res) {
        const caller = callerOf(res);
        requireReader(caller);
        const id = String(req.params.id);
        if (!decodeMigrationId(id)) throw new ObjectNotFoundError();
        const view = await reader.get(id);
        if (!view || !runInScope(await auth.scopeOf(caller), view.record)) throw new ObjectNotFoundError();
        res.type('application/json').send(await details.body(id, view));
      },
    },
    {
      method: 'POST',
      path: '/status/:id',
      before: [body],
      async handler(req, res) {
        const caller = callerOf(res);
        requireChangerTag(caller);
        validateBody<{ status: 'rollback_completed' }>('status-update-request', parseJsonObject(req.body, req.get('content-type')));
        const id = String(req.params.id);
        const record = await currentRecord(id);
        await requireRunChanger(ctx, caller, record);
        const updated = await engine.markRollbackCompleted(record, caller);
        reader.invalidate(id);
        details.forget(id);
        res.json(presentMigrationDetail(updated));
      },
    },
    {
      method: 'POST',
      path: '/interrupt/:id',
      async handler(req, res) {
        const caller = callerOf(res);
        requireChangerTag(caller);
        const id = String(req.params.id);
        const record = await currentRecord(id);
        await requireRunChanger(ctx, caller, record);
        // A scheduled run is cancelled (ends interrupted at once, never opens).
        if (!isActiveStatus(record.status) && record.status !== 'scheduled') {
          throw new InvalidStateError(`Migration is not running (status: ${record.status})`, record.status);
        }
        await engine.interrupt(id, caller);
        reader.invalidate(id);
        details.forget(id);
        res.json({ interrupted: true, migration_id: id });
      },
    },
    // qmig's own routes (not the plugin's): undo a migration without a snapshot, finish its failed queues.
    followUpRoute('/rollback/:id', 'rollback-request', 'rollback_of', (record, b: RollbackRequestBody, caller) =>
      engine.startRollback(record, { queue_names: b.queue_names ?? null, tolerance: b.tolerance ?? null, reason: b.reason ?? null }, caller),
    ),
    followUpRoute('/repair/:id', 'repair-request', 'repair_of', (record, b: RepairRequestBody, caller) =>
      engine.startRepair(record, { queue_names: b.queue_names ?? null, reason: b.reason ?? null }, caller),
    ),
    {
      method: 'GET',
      path: '/rollback-pending',
      async handler(_req, res) {
        const caller = callerOf(res);
        requireReader(caller);
        const scope = await auth.scopeOf(caller);
        const pending = (await reader.listRecords()).find((r) => r.status === 'rollback_pending' && runInScope(scope, r));
        if (!pending) throw new NoRollbackPendingError();
        res.json(presentMigrationDetail(pending));
      },
    },
  ];

  return routerFromTable(routes, [authenticateMiddleware(auth)], extensions);
}
