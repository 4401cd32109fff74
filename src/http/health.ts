/**
 * GET /healthz (no auth): is the broker beside us reachable with the service account?
 * 200 {"status":"ok","broker":"reachable","node":...} or 503 with a reason. Probes are shared
 * (one broker round trip per second at most, whatever the probe rate). When the sidecar started
 * while the broker was down, the first successful probe also learns the node name.
 */
import type { RequestHandler } from 'express';
import type { Context } from '../context.js';
import { BrokerError, BrokerUnavailableError } from '../errors.js';

export interface HealthReport {
  status: 'ok' | 'unavailable';
  broker: 'reachable' | 'unreachable' | 'error';
  node: string;
  reason?: string;
}

export class BrokerHealth {
  private last: { at: number; report: Promise<HealthReport> } | null = null;

  constructor(
    private readonly ctx: Context,
    private readonly ttlMs = 1000,
  ) {}

  report(): Promise<HealthReport> {
    const now = Date.now();
    if (!this.last || now - this.last.at >= this.ttlMs) this.last = { at: now, report: this.probe() };
    return this.last.report;
  }

  private async probe(): Promise<HealthReport> {
    try {
      const res = await this.ctx.mgmt.request<{ node?: string }>('GET', this.ctx.nodeName === 'unknown' ? '/overview' : '/whoami');
      if (res.status === 401 || res.status === 403) {
        return { status: 'unavailable', broker: 'error', node: this.ctx.nodeName, reason: `the broker refused the service account (${res.status})` };
      }
      if (res.status >= 400) return { status: 'unavailable', broker: 'error', node: this.ctx.nodeName, reason: `the broker answered ${res.status}` };
      if (this.ctx.nodeName === 'unknown' && typeof res.data?.node === 'string') this.ctx.nodeName = res.data.node;
      return { status: 'ok', broker: 'reachable', node: this.ctx.nodeName };
    } catch (err) {
      if (err instanceof BrokerUnavailableError) return { status: 'unavailable', broker: 'unreachable', node: this.ctx.nodeName, reason: err.reason };
      if (err instanceof BrokerError) return { status: 'unavailable', broker: 'error', node: this.ctx.nodeName, reason: err.reason };
      return { status: 'unavailable', broker: 'error', node: this.ctx.nodeName, reason: (err as Error).message };
    }
  }
}

export function healthzHandler(health: BrokerHealth): RequestHandler {
  return async (_req, res) => {
    const report = await health.report();
    res.setHeader('Cache-Control', 'no-store');
    res.status(report.status === 'ok' ? 200 : 503).json(report);
  };
}
