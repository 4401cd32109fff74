/**
 * Counts failed logins per client address over a sliding minute. Once `limit` attempts have
 * failed within 60 s, further attempts from the address are refused (429) — more than `limit`
 * per minute never reach the broker — until enough of those failures are a minute old.
 */
export class LoginRateLimiter {
  private readonly failures = new Map<string, number[]>();
  private static readonly WINDOW_MS = 60_000;
  private static readonly MAX_ADDRESSES = 100_000;

  constructor(private readonly limit: number, private readonly now: () => number = Date.now) {}

  /** Seconds to wait when `address` is over the limit, else 0. */
  retryAfterSeconds(address: string): number {
    const recent = this.recent(address);
    if (recent.length < this.limit) return 0;
    // Trying again needs the count back below the limit: the failure at this index must age out.
    const oldestRelevant = recent[recent.length - this.limit];
    return Math.max(1, Math.ceil((oldestRelevant + LoginRateLimiter.WINDOW_MS - this.now()) / 1000));
  }

  recordFailure(address: string): void {
    const recent = this.recent(address);
    recent.push(this.now());
    // keep only what can matter for the decision
    if (recent.length > this.limit) recent.splice(0, recent.length - this.limit);
    this.failures.set(address, recent);
    if (this.failures.size > LoginRateLimiter.MAX_ADDRESSES) this.prune();
  }

  private recent(address: string): number[] {
    const cutoff = this.now() - LoginRateLimiter.WINDOW_MS;
    const list = (this.failures.get(address) ?? []).filter((t) => t > cutoff);
    if (list.length === 0) this.failures.delete(address);
    return list;
  }

  private prune(): void {
    for (const address of [...this.failures.keys()]) this.recent(address);
  }
}
