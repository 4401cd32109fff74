/**
 * TLS of the transfer shovels to an `amqps` target. The shovels run inside the SOURCE broker, so
 * their TLS options are files on the broker nodes, named in the shovel URI's query
 * (QMIG_SHOVEL_CA_FILE → cacertfile, QMIG_SHOVEL_CERT_FILE/KEY_FILE → certfile/keyfile), always
 * with verify=verify_peer, and server_name_indication=<target host> when that host is a DNS name
 * (Erlang refuses an IP address there; for an IP the certificate chain is still verified).
 *
 * A shovel that cannot verify its target only stays `starting` (the reason is in the broker's log,
 * not in the API), so the sidecar first makes the same handshake itself, with the same files (the
 * same path mounted in the sidecar) and refuses the transfer naming what failed.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { connect } from 'node:tls';
import type { Config } from '../config/config.js';
import type { AmqpEndpoint } from './target-cluster.js';

export type ShovelTlsConfig = Pick<Config, 'shovelCaFile' | 'shovelCertFile' | 'shovelKeyFile'>;

/** The query (with its `?`) that an amqps shovel URI to `endpoint` carries. */
export function shovelTlsQuery(config: ShovelTlsConfig, endpoint: AmqpEndpoint): string {
  if (!config.shovelCaFile) throw new Error('QMIG_SHOVEL_CA_FILE is required for an amqps shovel');
  const q = new URLSearchParams();
  q.set('cacertfile', config.shovelCaFile);
  if (config.shovelCertFile && config.shovelKeyFile) {
    q.set('certfile', config.shovelCertFile);
    q.set('keyfile', config.shovelKeyFile);
  }
  q.set('verify', 'verify_peer');
  if (!isIP(endpoint.host)) q.set('server_name_indication', endpoint.host);
  return `?${q.toString()}`;
}

/**
 * Why the shovels could not verify the target's AMQPS listener with the configured files, or null
 * when the handshake succeeds (certificate chain to QMIG_SHOVEL_CA_FILE, host name, client
 * certificate accepted).
 */
export function shovelTlsProblem(config: ShovelTlsConfig, endpoint: AmqpEndpoint, timeoutMs = 10_000): Promise<string | null> {
  if (!config.shovelCaFile) {
    return Promise.resolve(
      'QMIG_SHOVEL_CA_FILE is not set: shovels to an amqps target must verify its certificate (set it to the CA bundle, on the broker nodes and the sidecar)',
    );
  }
  const withCert = Boolean(config.shovelCertFile && config.shovelKeyFile);
  let files: { ca: Buffer; cert?: Buffer; key?: Buffer };
  try {
    files = {
      ca: readFileSync(config.shovelCaFile),
      cert: withCert ? readFileSync(config.shovelCertFile!) : undefined,
      key: withCert ? readFileSync(config.shovelKeyFile!) : undefined,
    };
  } catch (err) {
    return Promise.resolve(`the shovel TLS files cannot be read by the sidecar (mount them at the same path as on the broker): ${(err as Error).message}`);
  }
  return new Promise((resolve) => {
    const socket = connect({
      host: endpoint.host,
      port: endpoint.port,
      servername: isIP(endpoint.host) ? undefined : endpoint.host,
      ...files,
      rejectUnauthorized: true,
    });
    const done = (problem: string | null) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(problem);
    };
    const timer = setTimeout(() => done(`no TLS handshake with ${endpoint.host}:${endpoint.port} within ${timeoutMs} ms`), timeoutMs);
    socket.once('secureConnect', () => {
      // Under TLS 1.3 a server checks the client certificate after the handshake: only its answer
      // to the AMQP header (connection.start) shows that it accepted the certificate.
      socket.write('AMQP\x00\x00\x09\x01');
      // The broker answers the header with connection.start once it accepted the certificate.
      socket.once('data', () => done(null));
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      const hint =
        /certificate required|handshake failure|bad certificate/i.test(err.message) && !withCert
          ? ' (the target wants a client certificate: set QMIG_SHOVEL_CERT_FILE and QMIG_SHOVEL_KEY_FILE)'
          : '';
      const message = err.message.replace(/\s+/g, ' ').trim();
      done(
        `TLS to ${endpoint.host}:${endpoint.port} with QMIG_SHOVEL_CA_FILE ${config.shovelCaFile} failed: ${err.code ? `${err.code}: ` : ''}${message}${hint}`,
      );
    });
    socket.once('close', () =>
      done(`${endpoint.host}:${endpoint.port} closed the TLS connection before answering the AMQP header (client certificate refused?)`),
    );
  });
}
