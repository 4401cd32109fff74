/**
 * memory_usage: mem_used / mem_limit (the high watermark) on every running node must stay at or
 * below `threshold` (QMIG_MEMORY_THRESHOLD, default 0.8): a migration holds every message twice
 * for a while and a node near its watermark would raise an alarm mid-way.
 */
import type { NodeState } from './cluster-snapshot.js';
import { failed, passed, type SystemCheck } from './types.js';

export interface NodeMemory {
  node: string;
  mem_used: number | null;
  mem_limit: number | null;
  usage_ratio: number | null;
}

export function memoryRatio(n: NodeState): number | null {
  if (typeof n.mem_used !== 'number' || typeof n.mem_limit !== 'number' || n.mem_limit <= 0) return null;
  return n.mem_used / n.mem_limit;
}

export function checkMemoryUsage(nodes: NodeState[], threshold: number): SystemCheck {
  const per: NodeMemory[] = nodes
    .filter((n) => n.running)
    .map((n) => {
      const ratio = memoryRatio(n);
      return { node: n.name, mem_used: n.mem_used ?? null, mem_limit: n.mem_limit ?? null, usage_ratio: ratio === null ? null : round(ratio, 4) };
    });
  const details = { threshold, nodes: per };
  const over = per.filter((p) => p.usage_ratio !== null && p.usage_ratio > threshold);
  const unknown = per.filter((p) => p.usage_ratio === null);
  if (over.length > 0) {
    const list = over.map((p) => `${p.node} at ${pct(p.usage_ratio as number)} of its memory limit`).join(', ');
    return failed(
      'memory_usage',
      `Memory usage above ${pct(threshold)} of the limit: ${list}. Free memory (or raise the watermark) before migration.`,
      details,
    );
  }
  if (unknown.length > 0) {
    return failed('memory_usage', `Memory usage unknown on ${unknown.map((p) => p.node).join(', ')} (no statistics yet); retry in a few seconds`, details);
  }
  return passed('memory_usage', `Memory usage is below ${pct(threshold)} of the limit on every node`, details);
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;
const pct = (x: number) => `${round(x * 100, 1)}%`;
