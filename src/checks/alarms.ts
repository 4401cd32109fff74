/**
 * active_alarms: a memory or disk alarm on any node blocks publishers — including the shovels
 * that move the messages — so a migration would stall. Judged on running nodes.
 */
import type { NodeState } from './cluster-snapshot.js';
import { failed, passed, type SystemCheck } from './types.js';

export function checkActiveAlarms(nodes: NodeState[]): SystemCheck {
  const alarms: Array<{ node: string; alarm: 'memory' | 'disk' }> = [];
  for (const n of nodes.filter((x) => x.running)) {
    if (n.mem_alarm) alarms.push({ node: n.name, alarm: 'memory' });
    if (n.disk_free_alarm) alarms.push({ node: n.name, alarm: 'disk' });
  }
  if (alarms.length > 0) {
    const list = alarms.map((a) => `${a.alarm} alarm on ${a.node}`).join(', ');
    return failed('active_alarms', `Resource alarm(s) active: ${list}. Publishing (and the shovels that migrate messages) is blocked until they clear.`, {
      alarms,
    });
  }
  return passed('active_alarms', 'No memory or disk alarm on any node', { alarms });
}
