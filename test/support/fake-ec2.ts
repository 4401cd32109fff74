/**
 * A small local HTTP server that speaks the EC2 Query API (form-encoded `Action=…&Version=…`,
 * XML answers shaped like EC2's) for the calls qmig makes — DescribeVolumes, CreateSnapshot,
 * DescribeSnapshots, DeleteSnapshot, CreateTags — plus IMDSv2 (token + instance-id + region), so
 * the REAL @aws-sdk/client-ec2 is exercised (point it here with QMIG_EBS_ENDPOINT and dummy
 * credentials). It can hold new snapshots `pending`, or act unreachable (drops every connection).
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

const NS = 'http://ec2.amazonaws.com/doc/2016-11-15/';

export interface FakeVolume {
  volumeId: string;
  instanceId: string;
  device: string;
}

export interface FakeSnapshot {
  snapshotId: string;
  volumeId: string;
  state: 'pending' | 'completed' | 'error';
  progress: string;
  startTime: Date;
  description: string;
  tags: Record<string, string>;
}

export interface FakeCall {
  action: string;
  params: Record<string, string>;
  signed: boolean;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export class FakeEc2 {
  readonly volumes: FakeVolume[] = [];
  readonly snapshots = new Map<string, FakeSnapshot>();
  readonly calls: FakeCall[] = [];
  /** New snapshots stay `pending` while true; otherwise they complete right after creation. */
  holdPending = false;
  /** Every connection is dropped without an answer while true. */
  unreachable = false;
  /** IMDSv2 answers for this instance id / region. */
  imdsInstanceId: string | null = null;
  region = 'eu-west-1';
  private readonly tokens = new Set<string>();
  private server: Server | null = null;

  get url(): string {
    if (!this.server) throw new Error('fake EC2 not started');
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return this;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  attachVolume(instanceId: string, device: string, volumeId = `vol-${randomBytes(8).toString('hex')}`): FakeVolume {
    const v = { volumeId, instanceId, device };
    this.volumes.push(v);
    return v;
  }

  /** A snapshot someone else started (e.g. a backup job), in the given state. */
  addSnapshot(volumeId: string, state: FakeSnapshot['state'] = 'pending'): FakeSnapshot {
    const s: FakeSnapshot = {
      snapshotId: `snap-${randomBytes(8).toString('hex')}`,
      volumeId,
      state,
      progress: state === 'completed' ? '100%' : '42%',
      startTime: new Date(),
      description: 'external',
      tags: {},
    };
    this.snapshots.set(s.snapshotId, s);
    return s;
  }

  callsOf(action: string): FakeCall[] {
    return this.calls.filter((c) => c.action === action);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.unreachable) {
      req.socket.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const path = (req.url ?? '/').split('?')[0];
    if (path.startsWith('/latest/')) return this.imds(req, res, path);
    const params = Object.fromEntries(new URLSearchParams(body));
    const action = params.Action ?? '';
    this.calls.push({ action, params, signed: /^AWS4-HMAC-SHA256 /.test(String(req.headers.authorization ?? '')) });
    try {
      const xml = this.act(action, params);
      res.writeHead(200, { 'content-type': 'text/xml;charset=UTF-8' });
      res.end(
        `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${NS}"><requestId>${randomBytes(8).toString('hex')}</requestId>${xml}</${action}Response>`,
      );
    } catch (err) {
      const e = err as Error & { code?: string };
      res.writeHead(400, { 'content-type': 'text/xml;charset=UTF-8' });
      res.end(
        `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${esc(e.code ?? 'InvalidParameterValue')}</Code><Message>${esc(e.message)}</Message></Error></Errors><RequestID>${randomBytes(8).toString('hex')}</RequestID></Response>`,
      );
    }
  }

  private imds(req: IncomingMessage, res: ServerResponse, path: string): void {
    if (path === '/latest/api/token' && req.method === 'PUT') {
      if (!req.headers['x-aws-ec2-metadata-token-ttl-seconds']) return void res.writeHead(400).end();
      const token = randomBytes(16).toString('hex');
      this.tokens.add(token);
      return void res.writeHead(200, { 'content-type': 'text/plain' }).end(token);
    }
    if (!this.tokens.has(String(req.headers['x-aws-ec2-metadata-token'] ?? ''))) return void res.writeHead(401).end();
    if (path === '/latest/meta-data/instance-id' && this.imdsInstanceId) return void res.writeHead(200).end(this.imdsInstanceId);
    if (path === '/latest/meta-data/placement/region') return void res.writeHead(200).end(this.region);
    res.writeHead(404).end();
  }

  private act(action: string, p: Record<string, string>): string {
    switch (action) {
      case 'DescribeVolumes': {
        const filters = parseFilters(p);
        const vols = this.volumes.filter((v) =>
          matches(filters, { 'attachment.instance-id': v.instanceId, 'attachment.device': v.device, 'volume-id': v.volumeId }),
        );
        return `<volumeSet>${vols.map(volumeXml).join('')}</volumeSet>`;
      }
      case 'CreateSnapshot': {
        const vol = this.volumes.find((v) => v.volumeId === p.VolumeId);
        if (!vol) throw Object.assign(new Error(`The volume '${p.VolumeId}' does not exist.`), { code: 'InvalidVolume.NotFound' });
        const tags: Record<string, string> = {};
        for (let i = 1; p[`TagSpecification.1.Tag.${i}.Key`] !== undefined; i++)
          tags[p[`TagSpecification.1.Tag.${i}.Key`]] = p[`TagSpecification.1.Tag.${i}.Value`] ?? '';
        const s: FakeSnapshot = {
          snapshotId: `snap-${randomBytes(8).toString('hex')}`,
          volumeId: vol.volumeId,
          state: 'pending',
          progress: '0%',
          startTime: new Date(),
          description: p.Description ?? '',
          tags,
        };
        this.snapshots.set(s.snapshotId, s);
        const xml = snapshotFields(s);
        if (!this.holdPending) Object.assign(s, { state: 'completed', progress: '100%' });
        return xml;
      }
      case 'DescribeSnapshots': {
        const filters = parseFilters(p);
        const ids = listParam(p, 'SnapshotId');
        const snaps = [...this.snapshots.values()].filter(
          (s) =>
            (ids.length === 0 || ids.includes(s.snapshotId)) && matches(filters, { 'volume-id': s.volumeId, status: s.state, 'snapshot-id': s.snapshotId }),
        );
        return `<snapshotSet>${snaps.map((s) => `<item>${snapshotFields(s)}</item>`).join('')}</snapshotSet>`;
      }
      case 'DeleteSnapshot': {
        if (!this.snapshots.delete(p.SnapshotId)) {
          throw Object.assign(new Error(`The snapshot '${p.SnapshotId}' does not exist.`), { code: 'InvalidSnapshot.NotFound' });
        }
        return '<return>true</return>';
      }
      case 'CreateTags': {
        for (const id of listParam(p, 'ResourceId')) {
          const s = this.snapshots.get(id);
          for (let i = 1; s && p[`Tag.${i}.Key`] !== undefined; i++) s.tags[p[`Tag.${i}.Key`]] = p[`Tag.${i}.Value`] ?? '';
        }
        return '<return>true</return>';
      }
      default:
        throw Object.assign(new Error(`The action ${action} is not valid for this web service.`), { code: 'InvalidAction' });
    }
  }
}

function listParam(p: Record<string, string>, prefix: string): string[] {
  const out: string[] = [];
  for (let i = 1; p[`${prefix}.${i}`] !== undefined; i++) out.push(p[`${prefix}.${i}`]);
  return out;
}

function parseFilters(p: Record<string, string>): Array<{ name: string; values: string[] }> {
  const out = [];
  for (let i = 1; p[`Filter.${i}.Name`] !== undefined; i++) out.push({ name: p[`Filter.${i}.Name`], values: listParam(p, `Filter.${i}.Value`) });
  return out;
}

function matches(filters: Array<{ name: string; values: string[] }>, fields: Record<string, string>): boolean {
  return filters.every((f) => (f.name in fields ? f.values.includes(fields[f.name]) : true));
}

function volumeXml(v: FakeVolume): string {
  return `<item><volumeId>${v.volumeId}</volumeId><size>100</size><snapshotId/><availabilityZone>eu-west-1a</availabilityZone><status>in-use</status><createTime>2025-01-01T00:00:00.000Z</createTime><attachmentSet><item><volumeId>${v.volumeId}</volumeId><instanceId>${v.instanceId}</instanceId><device>${esc(v.device)}</device><status>attached</status><attachTime>2025-01-01T00:00:00.000Z</attachTime><deleteOnTermination>false</deleteOnTermination></item></attachmentSet><volumeType>gp3</volumeType><encrypted>false</encrypted></item>`;
}

function snapshotFields(s: FakeSnapshot): string {
  const tags = Object.entries(s.tags)
    .map(([k, v]) => `<item><key>${esc(k)}</key><value>${esc(v)}</value></item>`)
    .join('');
  return `<snapshotId>${s.snapshotId}</snapshotId><volumeId>${s.volumeId}</volumeId><status>${s.state}</status><startTime>${s.startTime.toISOString()}</startTime><progress>${s.progress}</progress><ownerId>123456789012</ownerId><volumeSize>100</volumeSize><description>${esc(s.description)}</description><encrypted>false</encrypted><tagSet>${tags}</tagSet>`;
}
