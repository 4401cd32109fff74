/**
 * `qmig interrupt ID`: POST /interrupt/:id. Queues being migrated finish, the rest are skipped.
 * Exit 0 when the interrupt was accepted, 1 when refused (404 unknown, 409 not running).
 */
import { printJson, println } from '../output.js';
import { EXIT } from '../exit-codes.js';
import { remoteCommand } from '../remote-command.js';
import { resolveMigrationHandle } from '../handles.js';

export const interruptCommand = remoteCommand({
  name: 'interrupt',
  summary: 'interrupt a running migration (queues in flight finish, the rest are skipped)',
  synopsis: 'ID | latest | PREFIX',
  description: 'Interrupts a running migration (POST /api/queue-migration/interrupt/:id).\nFollow its end with `qmig watch ID`.',
  options: {},
  positionals: { names: ['ID'], required: 1 },
  async run(ctx) {
    const id = await resolveMigrationHandle(ctx, ctx.positionals[0]);
    const res = await ctx.client().post<{ interrupted: true; migration_id: string }>(`/interrupt/${encodeURIComponent(id)}`);
    if (res.status !== 200) return ctx.fail(res);
    if (ctx.json) printJson(ctx.io.stdout, res.body);
    else println(ctx.io.stdout, `interrupt requested for migration ${id}\nfollow its end with: qmig watch ${id}`);
    return EXIT.ok;
  },
});
