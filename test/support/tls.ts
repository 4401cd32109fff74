/**
 * TLS in integration tests: the test clusters' own TLS listeners and certificates (made by
 * scripts/cluster.sh, exported by scripts/test.sh), certificates made on the spot with openssl
 * (another CA, a renewed server certificate, a throwaway CA with server and client certificates),
 * an HTTPS client that presents a client certificate (fetch cannot), and a TLS terminator in
 * front of any local TCP listener, optionally demanding a client certificate signed by the CA.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type PeerCertificate, type TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { cluster } from './cluster.js';

const run = promisify(execFile);

function required(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the tests with scripts/test.sh (it starts the clusters with their TLS listeners)`);
  return v;
}

/** The test clusters' TLS material, all signed by the machine's test CA (scripts/cluster.sh). */
export const clusterTls = {
  get dir(): string {
    return required('QMIG_CLUSTER_TLS_DIR');
  },
  get ca(): string {
    return join(this.dir, 'ca.pem');
  },
  /** Server certificate (SAN localhost and 127.0.0.1; server and client use). */
  get serverCert(): string {
    return join(this.dir, 'server.pem');
  },
  get serverKey(): string {
    return join(this.dir, 'server.key');
  },
  get clientCert(): string {
    return join(this.dir, 'client.pem');
  },
  get clientKey(): string {
    return join(this.dir, 'client.key');
  },
  /** https://localhost:<port> of node i's management TLS listener. */
  managementUrl(i = 0): string {
    return required('QMIG_CLUSTER_MGMT_TLS_URLS').split(',')[i];
  },
  /** amqps://localhost:<port> of node i (no credentials). */
  amqpUrl(i = 0): string {
    const u = new URL(required('QMIG_CLUSTER_AMQPS_URLS').split(',')[i]);
    return `amqps://${u.host}`;
  },
  get targetManagementUrl(): string {
    return required('QMIG_TARGET_MGMT_TLS_URL');
  },
  get targetAmqpUrl(): string {
    return required('QMIG_TARGET_AMQPS_URL');
  },
};

/** Sidecar variables for TLS only towards node `i`: management https and amqps with the client certificate. */
export function brokerTlsEnv(i = 0): Record<string, string> {
  return {
    QMIG_MANAGEMENT_URL: clusterTls.managementUrl(i),
    QMIG_AMQP_URL: clusterTls.amqpUrl(i),
    QMIG_CA_FILE: clusterTls.ca,
    QMIG_CLIENT_CERT_FILE: clusterTls.clientCert,
    QMIG_CLIENT_KEY_FILE: clusterTls.clientKey,
  };
}

/** Sidecar variables for its own HTTPS listener (mutual TLS unless `mutual: false`). */
export function listenerTlsEnv(mutual = true): Record<string, string> {
  return {
    QMIG_TLS_CERT_FILE: clusterTls.serverCert,
    QMIG_TLS_KEY_FILE: clusterTls.serverKey,
    ...(mutual ? { QMIG_TLS_CLIENT_CA_FILE: clusterTls.ca } : {}),
  };
}

export interface Pki {
  dir: string;
  ca: string;
  caKey: string;
  /** A certificate for localhost/127.0.0.1 signed by this CA; returns its cert and key paths. */
  issue(name: string, cn: string): Promise<{ cert: string; key: string }>;
}

/** A throw-away CA in a temporary directory (removed after the test). */
export async function makePki(t: { after(fn: () => unknown): void }, cn = 'qmig throw-away CA'): Promise<Pki> {
  const dir = mkdtempSync(join(tmpdir(), 'qmig-pki-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const f = (n: string) => join(dir, n);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await run('openssl', ['req', '-x509', ...ec, '-days', '2', '-subj', `/CN=${cn}`, '-keyout', f('ca.key'), '-out', f('ca.pem')]);
  const issue = async (name: string, leafCn: string) => {
    await run('openssl', ['req', ...ec, '-subj', `/CN=${leafCn}`, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`)]);
    await run('bash', ['-c', `printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\nextendedKeyUsage=serverAuth,clientAuth\\n' > '${f(`${name}.ext`)}'`]);
    await run('openssl', [
      'x509',
      '-req',
      '-in',
      f(`${name}.csr`),
      '-CA',
      f('ca.pem'),
      '-CAkey',
      f('ca.key'),
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      f(`${name}.ext`),
      '-out',
      f(`${name}.pem`),
    ]);
    return { cert: f(`${name}.pem`), key: f(`${name}.key`) };
  };
  return { dir, ca: f('ca.pem'), caKey: f('ca.key'), issue };
}

export interface HttpsAnswer {
  status: number;
  body: any;
  text: string;
  /** The certificate the server presented. */
  peer: PeerCertificate;
}

export interface HttpsCall {
  method?: string;
  body?: unknown;
  /** Basic credentials (default guest/guest; null: none). */
  auth?: { user: string; password: string } | null;
  ca?: Buffer | string;
  cert?: Buffer | string;
  key?: Buffer | string;
}

/** One HTTPS request on a fresh connection (so a reloaded server certificate is seen at once). */
export function httpsCall(url: string, opts: HttpsCall = {}): Promise<HttpsAnswer> {
  const u = new URL(url);
  const auth = opts.auth === undefined ? { user: cluster.user, password: cluster.password } : opts.auth;
  const headers: Record<string, string> = {};
  if (auth) headers.authorization = 'Basic ' + Buffer.from(`${auth.user}:${auth.password}`).toString('base64');
  const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  if (payload !== undefined) headers['content-type'] = 'application/json';
  return new Promise((resolve, reject) => {
    const req = request(
      {
        hostname: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        method: opts.method ?? 'GET',
        headers,
        ca: opts.ca,
        cert: opts.cert,
        key: opts.key,
        agent: false,
      },
      (res) => {
        const peer = (res.socket as TLSSocket).getPeerCertificate();
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (text += d));
        res.on('end', () => {
          let body: unknown = null;
          try {
            body = JSON.parse(text);
          } catch {
            body = null;
          }
          resolve({ status: res.statusCode ?? 0, body, text, peer });
        });
      },
    );
    req.on('error', reject);
    req.setTimeout(30_000, () => req.destroy(new Error(`no answer from ${url} within 30 s`)));
    req.end(payload);
  });
}

export interface Certificates {
  ca: string;
  key: string;
  cert: string;
  clientKey: string;
  clientCert: string;
}

export async function makeCertificates(dir: string): Promise<Certificates> {
  const f = (n: string) => join(dir, n);
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.pem'),
    '-days',
    '1',
    '-subj',
    '/CN=qmig test CA',
  ]);
  await run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1']);
  await run('bash', ['-c', `printf 'subjectAltName=IP:127.0.0.1\\n' > ${f('ext.cnf')}`]);
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    f('server.csr'),
    '-CA',
    f('ca.pem'),
    '-CAkey',
    f('ca.key'),
    '-CAcreateserial',
    '-out',
    f('server.pem'),
    '-days',
    '1',
    '-extfile',
    f('ext.cnf'),
  ]);
  await run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('client.key'), '-out', f('client.csr'), '-subj', '/CN=qmig test client']);
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    f('client.csr'),
    '-CA',
    f('ca.pem'),
    '-CAkey',
    f('ca.key'),
    '-CAcreateserial',
    '-out',
    f('client.pem'),
    '-days',
    '1',
  ]);
  return { ca: f('ca.pem'), key: f('server.key'), cert: f('server.pem'), clientKey: f('client.key'), clientCert: f('client.pem') };
}

/** https://127.0.0.1:<port> in front of `upstream` (an http URL); `requireClientCert`: mutual TLS against the CA. */
export async function tlsFront(t: { after(fn: () => unknown): void }, certs: Certificates, upstream: string, requireClientCert = false): Promise<string> {
  const target = new URL(upstream);
  const open = new Set<{ destroy(): void }>();
  const options = requireClientCert ? { requestCert: true, rejectUnauthorized: true, ca: readFileSync(certs.ca) } : {};
  const server = createServer({ key: readFileSync(certs.key), cert: readFileSync(certs.cert), ...options }, (socket) => {
    const back = connect(Number(target.port), target.hostname);
    open.add(socket);
    socket.on('close', () => {
      open.delete(socket);
      back.destroy();
    });
    socket.pipe(back).pipe(socket);
    socket.on('error', () => back.destroy());
    back.on('error', () => socket.destroy());
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(
    () =>
      new Promise<void>((r) => {
        server.close(() => r());
        for (const socket of open) socket.destroy(); // kept-alive connections
      }),
  );
  return `https://127.0.0.1:${(server.address() as { port: number }).port}`;
}
