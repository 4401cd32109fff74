/**
 * The TLS options of the sidecar's outgoing connections (management API, AMQP, peers, transfer
 * targets), built in one place from the configured files: the CA that the server must chain to,
 * the client certificate and key for mutual TLS, and whether verification is skipped (tests only).
 * Files are read when a client is built, so a client made after a certificate rotation uses the
 * new files.
 */
import { readFileSync } from 'node:fs';
import type { Config } from '../config/config.js';

/** Paths as configured; every field optional (no file: system CAs, no client certificate). */
export interface ClientTlsFiles {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  /** Skip verification of the server's certificate (QMIG_TLS_INSECURE; tests only). */
  tlsInsecure?: boolean;
}

/** Options for https.Agent / tls.connect (amqplib passes its socket options to tls.connect). */
export interface ClientTlsOptions {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  rejectUnauthorized: boolean;
}

export function clientTlsOptions(files: ClientTlsFiles): ClientTlsOptions {
  const options: ClientTlsOptions = { rejectUnauthorized: !files.tlsInsecure };
  if (files.caFile) options.ca = readFileSync(files.caFile);
  if (files.certFile && files.keyFile) {
    options.cert = readFileSync(files.certFile);
    options.key = readFileSync(files.keyFile);
  }
  return options;
}

/** The files for connections to the broker and to transfer targets. */
export function brokerTlsFiles(config: Pick<Config, 'caFile' | 'clientCertFile' | 'clientKeyFile' | 'tlsInsecure'>): ClientTlsFiles {
  return { caFile: config.caFile, certFile: config.clientCertFile, keyFile: config.clientKeyFile, tlsInsecure: config.tlsInsecure };
}

/** The files for https:// peers: always verified, against QMIG_PEER_CA_FILE (else QMIG_CA_FILE). */
export function peerTlsFiles(config: Pick<Config, 'peerCaFile' | 'caFile' | 'clientCertFile' | 'clientKeyFile'>): ClientTlsFiles {
  return { caFile: config.peerCaFile ?? config.caFile, certFile: config.clientCertFile, keyFile: config.clientKeyFile, tlsInsecure: false };
}
