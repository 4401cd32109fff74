/**
 * Waiting and bounded concurrency: the only `sleep` and the only worker pool in the codebase.
 * (A paced queue of broker work with a minimum gap between starts is `broker/pace.ts`.)
 */

/** Resolves after `ms` milliseconds. `unref: true` does not keep the process alive for it. */
export function sleep(ms: number, options: { unref?: boolean } = {}): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    if (options.unref) timer.unref();
  });
}

/**
 * `fn` for every item, at most `limit` at once. On a failure no further item is started; the ones
 * in flight are waited for (nothing keeps changing the broker behind the caller's back), then the
 * first error is thrown — as a loop that stops at its first failure would, only sooner.
 */
export async function eachAtMost<T>(limit: number, items: readonly T[], fn: (item: T, index: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | null = null;
  const worker = async () => {
    while (failure === null && next < items.length) {
      const index = next++;
      try {
        await fn(items[index], index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== null) throw (failure as { error: unknown }).error;
}

/** `fn` for every item, at most `limit` at once, results in the items' order; the first error is thrown after the rest settle. */
export async function mapAtMost<T, R>(limit: number, items: readonly T[], fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  await eachAtMost(limit, items, async (item, index) => {
    results[index] = await fn(item, index);
  });
  return results;
}
