/**
 * Open-loop HTTP load in a process of its own (started by bench/bench-support.ts `runLoad`):
 * LOAD_RATE GETs per second on LOAD_URL for LOAD_SECONDS, after LOAD_WARMUP seconds not counted.
 * Request i is due at t0 + i/rate whether or not earlier ones have answered, and its latency is
 * counted from that due time (no coordinated omission: a stalled server shows up in the numbers).
 * Every body is read to its end. Prints one JSON line: sent, ok, errors, p50/p90/p99/max (ms), bytes.
 */
import { Agent, request } from 'node:http';

const url = new URL(process.env.LOAD_URL!);
const rate = Number(process.env.LOAD_RATE ?? 200);
const seconds = Number(process.env.LOAD_SECONDS ?? 10);
const warmup = Number(process.env.LOAD_WARMUP ?? 2);
const auth = process.env.LOAD_AUTH ?? '';
const agent = new Agent({ keepAlive: true, maxSockets: 256 });

function get(): Promise<{ ok: boolean; bytes: number }> {
  return new Promise((resolve) => {
    const req = request(
      { host: url.hostname, port: url.port, path: url.pathname + url.search, method: 'GET', agent, headers: auth ? { authorization: auth } : {} },
      (res) => {
        let bytes = 0;
        res.on('data', (d: Buffer) => (bytes += d.length));
        res.on('end', () => resolve({ ok: res.statusCode === 200, bytes }));
        res.on('error', () => resolve({ ok: false, bytes }));
      },
    );
    req.on('error', () => resolve({ ok: false, bytes: 0 }));
    req.setTimeout(30_000, () => req.destroy());
    req.end();
  });
}

const latencies: number[] = [];
let ok = 0;
let errors = 0;
let bytes = 0;
let sent = 0;
const total = Math.round(rate * (warmup + seconds));
const counted = Math.round(rate * warmup);
const t0 = performance.now() + 50;
const pending: Promise<void>[] = [];

for (let i = 0; i < total; i++) {
  const due = t0 + (i * 1000) / rate;
  const wait = due - performance.now();
  if (wait > 1) await new Promise((r) => setTimeout(r, wait));
  sent++;
  pending.push(
    get().then((r) => {
      if (i < counted) return;
      latencies.push(performance.now() - due);
      bytes += r.bytes;
      if (r.ok) ok++;
      else errors++;
    }),
  );
}
await Promise.all(pending);
latencies.sort((a, b) => a - b);
const q = (p: number) => Number((latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN).toFixed(2));
process.stdout.write(
  JSON.stringify({ rate, seconds, sent: sent - counted, ok, errors, p50: q(0.5), p90: q(0.9), p99: q(0.99), max: q(1 - 1e-9), bytes }) + '\n',
);
agent.destroy();
