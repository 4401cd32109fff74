/**
 * The sidecar's listening server: plain HTTP by default, HTTPS when QMIG_TLS_CERT_FILE and
 * QMIG_TLS_KEY_FILE are set, with mutual TLS when QMIG_TLS_CLIENT_CA_FILE is set too (a client
 * without a certificate from that CA is refused in the handshake; Basic Auth is still required).
 *
 * Certificate rotation without a restart: the directories of those files are watched (a
 * Kubernetes Secret volume swaps a symlink in its directory) and checked once a minute as a
 * fallback; when a file's content changed, the new context is put into the running server
 * (`setSecureContext`): new connections get it, open ones keep theirs. A reload that fails
 * (certificate and key not both rotated yet, a half-written file) keeps the current context, is
 * logged, and is tried again at the next change.
 */
import { watch, readFileSync, type FSWatcher } from 'node:fs';
import { createServer as createHttpServer, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { dirname } from 'node:path';
import { createHash, X509Certificate } from 'node:crypto';
import type { SecureContextOptions } from 'node:tls';
import type { Config } from '../config/config.js';
import { logger } from '../logging.js';

export type ListenerConfig = Pick<Config, 'tlsCertFile' | 'tlsKeyFile' | 'tlsClientCaFile' | 'listenHost'>;

export interface Listener {
  server: Server;
  scheme: 'http' | 'https';
  /** Re-reads the files now; true when a new context was installed. */
  reload(): boolean;
  /** Stops watching the certificate files (at shutdown). */
  close(): void;
}

const FALLBACK_CHECK_MS = 60_000;
const SETTLE_MS = 200;

interface Material {
  options: SecureContextOptions;
  digest: string;
  /** What the log may show about the certificate (never the key). */
  summary: { subject: string; valid_to: string; fingerprint256: string };
}

function readMaterial(config: ListenerConfig): Material {
  const cert = readFileSync(config.tlsCertFile!);
  const key = readFileSync(config.tlsKeyFile!);
  const ca = config.tlsClientCaFile ? readFileSync(config.tlsClientCaFile) : undefined;
  const digest = createHash('sha256')
    .update(cert)
    .update(key)
    .update(ca ?? '')
    .digest('hex');
  const leaf = new X509Certificate(cert);
  return { options: { cert, key, ca }, digest, summary: { subject: leaf.subject, valid_to: leaf.validTo, fingerprint256: leaf.fingerprint256 } };
}

const LOOPBACK = /^(127\.|::1$|localhost$)/;

export function createListener(app: RequestListener, config: ListenerConfig): Listener {
  if (!config.tlsCertFile || !config.tlsKeyFile) {
    if (!LOOPBACK.test(config.listenHost)) {
      logger.warn(
        'the sidecar serves plain HTTP on a non-loopback address: credentials cross the network in clear text; set QMIG_TLS_CERT_FILE and QMIG_TLS_KEY_FILE',
        {
          listen_host: config.listenHost,
        },
      );
    }
    return { server: createHttpServer(app), scheme: 'http', reload: () => false, close: () => undefined };
  }

  let current = readMaterial(config);
  const mutual = Boolean(config.tlsClientCaFile);
  const server = createHttpsServer({ ...current.options, requestCert: mutual, rejectUnauthorized: mutual }, app);
  logger.info('HTTPS listener certificate loaded', { ...current.summary, mutual_tls: mutual });

  const reload = (): boolean => {
    let next: Material;
    try {
      next = readMaterial(config);
      if (next.digest === current.digest) return false;
      server.setSecureContext(next.options);
    } catch (err) {
      logger.warn('HTTPS certificate reload failed; the current certificate stays in use', { error: (err as Error).message });
      return false;
    }
    current = next;
    logger.info('HTTPS listener certificate reloaded', { ...current.summary, mutual_tls: mutual });
    return true;
  };

  let timer: NodeJS.Timeout | null = null;
  const soon = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      reload();
    }, SETTLE_MS);
  };
  const files = [config.tlsCertFile, config.tlsKeyFile, config.tlsClientCaFile].filter((f): f is string => Boolean(f));
  const watchers: FSWatcher[] = [];
  for (const dir of new Set(files.map((f) => dirname(f)))) {
    try {
      watchers.push(
        watch(dir, { persistent: false }, soon).on('error', (err) => logger.warn('watching the TLS certificate directory failed', { dir, error: err.message })),
      );
    } catch (err) {
      logger.warn('cannot watch the TLS certificate directory; relying on the periodic check', { dir, error: (err as Error).message });
    }
  }
  const fallback = setInterval(reload, FALLBACK_CHECK_MS).unref();

  const close = () => {
    for (const w of watchers) w.close();
    clearInterval(fallback);
    if (timer) clearTimeout(timer);
  };
  // An https.Server has the connection API the sidecar uses (listen, close, closeIdleConnections, …).
  return { server: server as HttpsServer as unknown as Server, scheme: 'https', reload, close };
}
