/**
 * TLS for tests: a throwaway CA with a server certificate for 127.0.0.1 and a client certificate
 * (openssl), and a TLS terminator in front of any local TCP listener (a broker's management
 * listener, a sidecar), optionally demanding a client certificate signed by the CA.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { createServer } from 'node:tls';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Certificates {
  ca: string;
  key: string;
  cert: string;
  clientKey: string;
  clientCert: string;
}

export async function makeCertificates(dir: string): Promise<Certificates> {
  const f = (n: string) => join(dir, n);
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '1', '-subj', '/CN=qmig test CA']);
  await run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1']);
  await run('bash', ['-c', `printf 'subjectAltName=IP:127.0.0.1\\n' > ${f('ext.cnf')}`]);
  await run('openssl', ['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('server.pem'), '-days', '1', '-extfile', f('ext.cnf')]);
  await run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('client.key'), '-out', f('client.csr'), '-subj', '/CN=qmig test client']);
  await run('openssl', ['x509', '-req', '-in', f('client.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('client.pem'), '-days', '1']);
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
