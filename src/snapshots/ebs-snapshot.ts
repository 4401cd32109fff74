/**
 * ebs mode (@aws-sdk/client-ec2): the node's data volume is the EBS volume attached to this
 * instance as QMIG_EBS_DEVICE. The instance id (and the region, when QMIG_EBS_REGION is empty)
 * come from the configuration or from IMDSv2 (token, then metadata). Credentials come from the
 * SDK's default chain (environment, instance role…).
 * - take:     CreateSnapshot of the volume, tagged qmig:migration-id / qmig:node;
 * - activity: DescribeSnapshots (owner self, volume-id = the volume, status = pending);
 * - remove:   DescribeSnapshots of that id, then DeleteSnapshot only when it carries qmig's tags
 *             (qmig:migration-id, and qmig:node = the node): a snapshot id from anywhere else —
 *             e.g. a record naming someone's backup — is refused, never deleted (an already
 *             deleted snapshot counts as gone).
 * Every failure (EC2 unreachable, refused, no such volume) is a SnapshotFailedError naming it;
 * nothing here answers "no snapshot in progress" when it could not ask.
 */
import type { EC2Client, EC2ClientConfig } from '@aws-sdk/client-ec2';
import { SnapshotFailedError } from '../errors.js';
import { logger } from '../logging.js';
import type { Snapshot } from '../state/records.js';
import type { NodeSnapshotActivity, NodeSnapshotter } from './node-snapshotter.js';

export interface EbsOptions {
  region?: string;
  endpoint?: string;
  instanceId?: string;
  device: string;
  imdsEndpoint: string;
  timeoutMs: number;
  /** Extra client settings (tests pass credentials). */
  client?: Partial<EC2ClientConfig>;
}

type Ec2Sdk = typeof import('@aws-sdk/client-ec2');
let sdk: Promise<Ec2Sdk> | null = null;
/** Loaded on first use: the SDK alone adds ≈90 MB to the sidecar's resident memory, which only ebs mode should pay. */
function loadSdk(): Promise<Ec2Sdk> {
  sdk ??= import('@aws-sdk/client-ec2');
  return sdk;
}

export const MIGRATION_TAG = 'qmig:migration-id';
export const NODE_TAG = 'qmig:node';

export class EbsSnapshotter implements NodeSnapshotter {
  readonly mode = 'ebs' as const;
  private ec2: Promise<EC2Client> | null = null;
  private volume: Promise<string> | null = null;

  constructor(private readonly opts: EbsOptions) {}

  async take(node: string, migrationId: string): Promise<Snapshot> {
    const volumeId = await this.volumeId();
    const out = await this.call('CreateSnapshot', (c, { CreateSnapshotCommand }) =>
      c.send(
        new CreateSnapshotCommand({
          VolumeId: volumeId,
          Description: `qmig pre-migration snapshot of ${node} (migration ${migrationId})`.slice(0, 255),
          TagSpecifications: [
            {
              ResourceType: 'snapshot',
              Tags: [
                { Key: MIGRATION_TAG, Value: migrationId },
                { Key: NODE_TAG, Value: node },
                { Key: 'Name', Value: `qmig ${node}` },
              ],
            },
          ],
        }),
      ),
    );
    if (!out.SnapshotId) throw new SnapshotFailedError(`EC2 CreateSnapshot of ${volumeId} (${node}) answered without a snapshot id`);
    logger.info('EBS snapshot started', { node, volume_id: volumeId, snapshot_id: out.SnapshotId, state: out.State });
    return { node, snapshot_id: out.SnapshotId, volume_id: volumeId };
  }

  async remove(snapshot: Snapshot): Promise<boolean> {
    if (!/^snap-[0-9a-f]+$/.test(snapshot.snapshot_id)) return false;
    try {
      const found = await this.call('DescribeSnapshots', (c, { DescribeSnapshotsCommand }) =>
        c.send(new DescribeSnapshotsCommand({ SnapshotIds: [snapshot.snapshot_id], OwnerIds: ['self'] })),
      );
      const s = (found.Snapshots ?? []).find((x) => x.SnapshotId === snapshot.snapshot_id);
      if (!s) return false;
      const tags = new Map((s.Tags ?? []).map((t) => [t.Key, t.Value]));
      if (!tags.get(MIGRATION_TAG) || tags.get(NODE_TAG) !== snapshot.node) {
        throw new SnapshotFailedError(
          `EBS snapshot ${snapshot.snapshot_id} was not created by qmig for node ${snapshot.node} (no ${MIGRATION_TAG} / ${NODE_TAG} tag): not removed`,
        );
      }
      await this.call('DeleteSnapshot', (c, { DeleteSnapshotCommand }) => c.send(new DeleteSnapshotCommand({ SnapshotId: snapshot.snapshot_id })));
      return true;
    } catch (err) {
      if (/InvalidSnapshot\.NotFound/.test((err as Error).message)) return false;
      throw err;
    }
  }

  async activity(node: string): Promise<NodeSnapshotActivity> {
    const volumeId = await this.volumeId();
    const out = await this.call('DescribeSnapshots', (c, { DescribeSnapshotsCommand }) =>
      c.send(
        new DescribeSnapshotsCommand({
          OwnerIds: ['self'],
          Filters: [
            { Name: 'volume-id', Values: [volumeId] },
            { Name: 'status', Values: ['pending'] },
          ],
        }),
      ),
    );
    const in_progress = (out.Snapshots ?? [])
      .filter((s) => s.State === 'pending')
      .map((s) => ({
        snapshot_id: s.SnapshotId ?? 'unknown',
        volume_id: s.VolumeId ?? volumeId,
        state: String(s.State),
        progress: s.Progress ?? null,
        started_at: s.StartTime ? s.StartTime.toISOString() : null,
      }));
    return { node, mode: 'ebs', volume_id: volumeId, in_progress };
  }

  /** The data volume: attached to this instance under the configured device name. */
  volumeId(): Promise<string> {
    if (!this.volume) {
      this.volume = this.findVolume();
      this.volume.catch(() => (this.volume = null));
    }
    return this.volume;
  }

  private async findVolume(): Promise<string> {
    const instanceId = this.opts.instanceId || (await this.metadata('instance-id'));
    const out = await this.call('DescribeVolumes', (c, { DescribeVolumesCommand }) =>
      c.send(
        new DescribeVolumesCommand({
          Filters: [
            { Name: 'attachment.instance-id', Values: [instanceId] },
            { Name: 'attachment.device', Values: [this.opts.device] },
          ],
        }),
      ),
    );
    const volumes = (out.Volumes ?? []).filter((v) => v.VolumeId);
    if (volumes.length !== 1) {
      throw new SnapshotFailedError(
        volumes.length === 0
          ? `no EBS volume attached to instance ${instanceId} as ${this.opts.device} (QMIG_EBS_DEVICE)`
          : `${volumes.length} EBS volumes attached to instance ${instanceId} as ${this.opts.device}`,
      );
    }
    return volumes[0].VolumeId as string;
  }

  private client(): Promise<EC2Client> {
    if (!this.ec2) {
      this.ec2 = (async () => {
        const region = this.opts.region || (await this.metadata('placement/region'));
        const { EC2Client } = await loadSdk();
        return new EC2Client({
          region,
          endpoint: this.opts.endpoint || undefined,
          maxAttempts: 3,
          requestHandler: { connectionTimeout: Math.min(5000, this.opts.timeoutMs), requestTimeout: this.opts.timeoutMs },
          ...this.opts.client,
        });
      })();
      this.ec2.catch(() => (this.ec2 = null));
    }
    return this.ec2;
  }

  private async call<T>(action: string, fn: (c: EC2Client, sdk: Ec2Sdk) => Promise<T>): Promise<T> {
    const client = await this.client();
    try {
      return await fn(client, await loadSdk());
    } catch (err) {
      const e = err as Error & { name?: string; Code?: string; code?: string; $metadata?: { httpStatusCode?: number } };
      const status = e.$metadata?.httpStatusCode;
      const where = this.opts.endpoint ? ` at ${this.opts.endpoint}` : '';
      const kind = status ? `refused (${status} ${e.name})` : `unreachable (${e.code ?? e.name})`;
      throw new SnapshotFailedError(`EC2 ${action}${where} ${kind}: ${e.message}`);
    }
  }

  /** One IMDSv2 metadata value (token first). */
  private async metadata(path: string): Promise<string> {
    const base = this.opts.imdsEndpoint.replace(/\/+$/, '');
    try {
      const tokenRes = await fetch(`${base}/latest/api/token`, {
        method: 'PUT',
        headers: { 'X-aws-ec2-metadata-token-ttl-seconds': '300' },
        signal: AbortSignal.timeout(3000),
      });
      if (!tokenRes.ok) throw new Error(`token request answered ${tokenRes.status}`);
      const token = await tokenRes.text();
      const res = await fetch(`${base}/latest/meta-data/${path}`, { headers: { 'X-aws-ec2-metadata-token': token }, signal: AbortSignal.timeout(3000) });
      if (!res.ok) throw new Error(`${path} answered ${res.status}`);
      const value = (await res.text()).trim();
      if (!value) throw new Error(`${path} is empty`);
      return value;
    } catch (err) {
      const setting = path === 'instance-id' ? 'QMIG_EBS_INSTANCE_ID' : 'QMIG_EBS_REGION';
      throw new SnapshotFailedError(`cannot read ${path} from the instance metadata service (IMDSv2 at ${base}): ${(err as Error).message}; set ${setting}`);
    }
  }
}
