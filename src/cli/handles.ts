/**
 * Migration handles the client commands accept besides a full id: `latest` (the most recent
 * migration) or a unique prefix of an id or display id, resolved against GET /status (newest
 * first). A handle matching nothing is passed on as is (the sidecar answers 404, exit 1); one
 * matching several migrations is a usage error listing them.
 */
import type { StatusList } from './api-types.js';
import { UsageError } from './args.js';
import type { RemoteContext } from './remote-command.js';

export function pickMigration(list: StatusList['migrations'], handle: string): string {
  if (handle === 'latest') {
    if (list.length === 0) throw new UsageError('`latest`: there is no migration yet');
    return list[0].id;
  }
  const exact = list.find((m) => m.id === handle || m.display_id === handle);
  if (exact) return exact.id;
  const matches = list.filter((m) => m.id.startsWith(handle) || m.display_id.startsWith(handle));
  if (matches.length === 1) return matches[0].id;
  if (matches.length > 1) {
    throw new UsageError(
      `'${handle}' matches ${matches.length} migrations (${matches
        .slice(0, 5)
        .map((m) => m.display_id)
        .join(', ')}${matches.length > 5 ? ', …' : ''}): give more of the id`,
    );
  }
  return handle;
}

/** The migration id `handle` stands for (one GET /status). */
export async function resolveMigrationHandle(ctx: RemoteContext, handle: string): Promise<string> {
  const res = await ctx.client().get<StatusList>('/status');
  if (res.status !== 200 || !Array.isArray(res.body?.migrations)) return handle;
  return pickMigration(res.body.migrations, handle);
}
