/**
 * shovel_plugin: qmig moves messages with dynamic shovels, so `rabbitmq_shovel` must run on every
 * running node (a dynamic shovel may be started on any of them). A node counts as running the
 * plugin when the application is running there, or, when the broker's list of applications is
 * not a real sample (missing, or without `rabbit` itself — seen on 3.10 right after a node's
 * `start_app`, while its statistics agent catches up), when the plugin is enabled.
 */
import type { NodeState } from './cluster-snapshot.js';
import { failed, passed, type SystemCheck } from './types.js';

export const SHOVEL_PLUGIN_REASON = 'rabbitmq_shovel plugin must be enabled for migration. Enable the plugin with: rabbitmq-plugins enable rabbitmq_shovel';

export function runsShovel(node: NodeState): boolean {
  const apps = node.running_applications;
  if (apps && apps.includes('rabbit')) return apps.includes('rabbitmq_shovel');
  return (node.enabled_plugins ?? []).includes('rabbitmq_shovel');
}

export function checkShovelPlugin(nodes: NodeState[]): SystemCheck {
  const running = nodes.filter((n) => n.running);
  const missing = running.filter((n) => !runsShovel(n)).map((n) => n.name);
  if (running.length === 0) {
    return failed('shovel_plugin', 'No running node reported its plugins; cannot confirm rabbitmq_shovel is enabled', { nodes_without_shovel: [] });
  }
  if (missing.length > 0) {
    return failed('shovel_plugin', SHOVEL_PLUGIN_REASON, { nodes_without_shovel: missing });
  }
  return passed('shovel_plugin', `rabbitmq_shovel is enabled on all ${running.length} running node(s)`, { nodes_without_shovel: [] });
}
