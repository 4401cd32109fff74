/**
 * Everything that is not qmig's own is passed to the broker's management listener, streamed
 * both ways (no buffering): the rest of /api/*, the management UI and its assets. The caller's
 * own Authorization header and query string go along unchanged, so a management-UI-style client
 * can point at the sidecar as if it were the management listener with the plugin installed;
 * `GET /api/overview` advertises the sidecar for the management listeners (endpoint-discovery.ts).
 * Upstream unreachable → 502 JSON.
 */
import { request as httpRequest, Agent as HttpAgent, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest, Agent as HttpsAgent } from 'node:https';
import type { RequestHandler } from 'express';
import { brokerTlsFiles, clientTlsOptions } from '../broker/tls-options.js';
import type { Config } from '../config/config.js';
import { logger } from '../logging.js';
import { overviewRewriter } from './endpoint-discovery.js';
import { sendError } from './error-mapper.js';
import { requestIdOf } from './request-context.js';

/** Hop-by-hop headers (RFC 9110 §7.6.1) are never forwarded. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

function forwardable(headers: IncomingMessage['headers']): OutgoingHttpHeaders {
  const connectionListed = new Set(String(headers.connection ?? '').split(',').map((h) => h.trim().toLowerCase()).filter(Boolean));
  const out: OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined || HOP_BY_HOP.has(k) || connectionListed.has(k)) continue;
    out[k] = v;
  }
  return out;
}

export type ManagementProxy = RequestHandler & {
  /** Closes the kept-alive upstream connections (at shutdown). */
  close(): void;
};

export function managementProxy(config: Pick<Config, 'managementUrl' | 'caFile' | 'clientCertFile' | 'clientKeyFile' | 'tlsInsecure' | 'advertisedUrl'>): ManagementProxy {
  const upstream = new URL(String(config.managementUrl));
  const https = upstream.protocol === 'https:';
  const basePath = upstream.pathname.replace(/\/+$/, '');
  const agent = https
    ? new HttpsAgent({ keepAlive: true, maxSockets: 64, ...clientTlsOptions(brokerTlsFiles(config)) })
    : new HttpAgent({ keepAlive: true, maxSockets: 64 });
  const send = https ? httpsRequest : httpRequest;
  const overview = overviewRewriter(config);

  const handler: RequestHandler = (req, res) => {
    const headers = forwardable(req.headers);
    headers.host = upstream.host;
    const priorFor = req.headers['x-forwarded-for'];
    headers['x-forwarded-for'] = [priorFor, req.socket.remoteAddress].filter(Boolean).join(', ');
    headers['x-forwarded-proto'] = req.protocol;
    if (req.headers.host) headers['x-forwarded-host'] = req.headers.host;
    headers['x-request-id'] = requestIdOf(res);

    const upstreamReq = send({
      protocol: upstream.protocol,
      hostname: upstream.hostname.replace(/^\[|\]$/g, ''),
      port: upstream.port || (https ? 443 : 80),
      method: req.method,
      path: basePath + req.originalUrl,
      headers,
      agent,
    });

    upstreamReq.on('response', (upstreamRes) => {
      if (overview.applies(req, upstreamRes)) return overview.send(req, upstreamRes, res);
      res.status(upstreamRes.statusCode ?? 502);
      for (const [k, v] of Object.entries(forwardable(upstreamRes.headers))) {
        if (v !== undefined) res.setHeader(k, v);
      }
      upstreamRes.pipe(res);
      upstreamRes.on('error', () => res.destroy());
    });

    let clientGone = false;
    upstreamReq.on('error', (err) => {
      if (clientGone) return;
      if (res.headersSent) {
        res.destroy();
        return;
      }
      logger.warn('management API unreachable through the proxy', { request_id: requestIdOf(res), path: req.path, error: err.message });
      sendError(res, 502, { error: 'bad_gateway', reason: `management API at ${upstream.origin} unreachable: ${(err as NodeJS.ErrnoException).code ?? err.message}` });
    });

    // The caller went away: stop the upstream request too.
    res.on('close', () => {
      if (!res.writableFinished) {
        clientGone = true;
        upstreamReq.destroy();
      }
    });

    req.pipe(upstreamReq);
  };
  return Object.assign(handler, { close: () => agent.destroy() });
}
