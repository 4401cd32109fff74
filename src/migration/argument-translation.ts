/**
 * Classic → quorum queue arguments (pure). Quorum queues refuse the classic-only arguments
 * (x-max-priority, x-queue-mode … → 400 "invalid arg"), so those are dropped and reported;
 * everything else (dead-lettering, length limits, overflow, single active consumer, TTLs,
 * expiry and unknown x-* arguments) is kept as it was.
 */

/** Arguments a quorum queue does not accept or that mean nothing for it. */
export const CLASSIC_ONLY_ARGUMENTS = ['x-max-priority', 'x-queue-mode', 'x-queue-master-locator', 'x-queue-version'] as const;

export interface TranslatedArguments {
  arguments: Record<string, unknown>;
  /** Names of the arguments that were dropped, sorted. */
  dropped: string[];
}

function isDropped(name: string): boolean {
  return (CLASSIC_ONLY_ARGUMENTS as readonly string[]).includes(name) || name.startsWith('x-ha-');
}

export function translateArguments(classic: Record<string, unknown> | null | undefined): TranslatedArguments {
  const out: Record<string, unknown> = {};
  const dropped: string[] = [];
  for (const [name, value] of Object.entries(classic ?? {})) {
    if (name === 'x-queue-type') continue;
    if (isDropped(name)) dropped.push(name);
    else out[name] = value;
  }
  out['x-queue-type'] = 'quorum';
  return { arguments: out, dropped: dropped.sort() };
}
