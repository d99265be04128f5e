/**
 * Failed attempts counted per address in a fixed window (failed sign-ins, unknown reveal codes): past
 * `max` the address is refused until its window ends. Per process: behind a load balancer each
 * machine counts its own, which still bounds guessing to a small multiple.
 */
export class Misses {
  private readonly byAddress = new Map<string, { count: number; since: number }>();

  constructor(
    readonly max: number,
    readonly windowMs: number,
    private readonly clock: () => number = Date.now,
  ) {}

  limited(address: string): boolean {
    const entry = this.byAddress.get(address);
    return entry !== undefined && this.clock() - entry.since < this.windowMs && entry.count >= this.max;
  }

  miss(address: string): void {
    const now = this.clock();
    const entry = this.byAddress.get(address);
    if (entry === undefined || now - entry.since >= this.windowMs) {
      // A bound on memory: an address flood forgets everyone's misses rather than growing without end.
      if (this.byAddress.size > 10_000) this.byAddress.clear();
      this.byAddress.set(address, { count: 1, since: now });
    } else entry.count++;
  }

  /** Seconds until a limited address may try again, at most. */
  get retryAfterSeconds(): number {
    return Math.ceil(this.windowMs / 1000);
  }
}
