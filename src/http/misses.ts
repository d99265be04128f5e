import { isIPv6 } from 'node:net';

/** Addresses remembered at most: past this the oldest are forgotten first. */
const MAX_ADDRESSES = 10_000;

/**
 * An IPv6 address counts by its /64, the block one subscriber is usually given: otherwise a single
 * machine could try from a new address every time.
 */
function counted(address: string): string {
  if (!isIPv6(address) || address.startsWith('::ffff:')) return address;
  const [head = '', tail = ''] = address.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = address.includes('::') ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).join(':')}::/64`;
}

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
    const entry = this.byAddress.get(counted(address));
    return entry !== undefined && this.clock() - entry.since < this.windowMs && entry.count >= this.max;
  }

  miss(address: string): void {
    const key = counted(address);
    const now = this.clock();
    const entry = this.byAddress.get(key);
    if (entry !== undefined && now - entry.since < this.windowMs) {
      entry.count++;
      return;
    }
    // A new window goes to the back of the map's order, so the oldest windows are forgotten first.
    this.byAddress.delete(key);
    if (this.byAddress.size >= MAX_ADDRESSES) this.byAddress.delete(this.byAddress.keys().next().value!);
    this.byAddress.set(key, { count: 1, since: now });
  }

  /** Seconds until a limited address may try again, at most. */
  get retryAfterSeconds(): number {
    return Math.ceil(this.windowMs / 1000);
  }
}
