/**
 * `qmig xfer-cancel ID`: POST /xfer/:id/cancel. Idempotent: a finished transfer answers its
 * status. Exit 0 when the sidecar accepted (or the transfer was already over), 1 for an unknown id.
 */
import { EXIT } from '../exit-codes.js';
import { printJson, println } from '../output.js';
import { remoteCommand } from '../remote-command.js';

interface CancelResponse {
  transfer_id: string;
  status: string;
  cancel_requested: boolean;
}

export const xferCancelCommand = remoteCommand({
  name: 'xfer-cancel',
  summary: 'cancel a transfer cleanly (messages stay where they are; idempotent)',
  synopsis: 'ID',
  description:
    'Cancels a transfer (POST /api/queue-migration/xfer/:id/cancel): the running shovels stop, nothing is removed.\nFollow its end with `qmig xfer-status ID`.',
  options: {},
  positionals: { names: ['ID'], required: 1 },
  async run(ctx) {
    const id = ctx.positionals[0];
    const res = await ctx.client().post<CancelResponse>(`/xfer/${encodeURIComponent(id)}/cancel`);
    if (res.status !== 200) return ctx.fail(res);
    if (ctx.json) printJson(ctx.io.stdout, res.body);
    else if (res.body.cancel_requested) println(ctx.io.stdout, `cancel requested for transfer ${id} (status: ${res.body.status})`);
    else println(ctx.io.stdout, `transfer ${id} is already ${res.body.status}: nothing to cancel`);
    return EXIT.ok;
  },
});
