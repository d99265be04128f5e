import { BlockList, isIP } from 'node:net';
import type { MiddlewareHandler } from 'hono';
import { normalizeIp } from '../core/auth.js';
import { type AppEnv, incomingOf } from './env.js';

/**
 * The proxies in front of the server whose X-Forwarded-For is believed (DISPERSL_TRUSTED_PROXIES:
 * addresses and CIDR ranges). Without them the client is the TCP peer: anyone can send the header, and
 * an IP allowlist that believed it would allow everyone.
 */
export class TrustedProxies {
  private readonly list = new BlockList();

  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const [address, bits] = entry.split('/') as [string, string | undefined];
      const family = isIP(address) === 4 ? 'ipv4' : 'ipv6';
      if (bits === undefined) this.list.addAddress(address, family);
      else this.list.addSubnet(address, Number(bits), family);
    }
  }

  private trusts(address: string): boolean {
    const family = isIP(address);
    return family !== 0 && this.list.check(address, family === 4 ? 'ipv4' : 'ipv6');
  }

  /**
   * The client behind a chain of proxies: walking X-Forwarded-For from the right (the hop nearest to
   * us), the first address that is not a trusted proxy. Each proxy appends the address it heard from,
   * so only the part our own proxies wrote can be believed; whatever the client put to the left is
   * never reached while a hop it cannot forge stands between. A malformed hop stops the walk at the
   * last proxy that wrote it.
   */
  clientOf(peer: string, forwarded: string | undefined): string {
    let client = normalizeIp(peer);
    if (forwarded === undefined) return client;
    const hops = forwarded.split(',');
    while (this.trusts(client) && hops.length > 0) {
      const hop = normalizeIp(hops.pop()!.trim());
      if (isIP(hop) === 0) break;
      client = hop;
    }
    return client;
  }
}

/** Names each request's client once, for every address check after it (IP allowlists, attempt limits). */
export const clientAddress = (proxies: TrustedProxies): MiddlewareHandler<AppEnv> =>
  async function clientAddress(c, next) {
    const incoming = incomingOf(c);
    const forwarded = incoming?.headers['x-forwarded-for'];
    c.set('clientIp', proxies.clientOf(incoming?.socket?.remoteAddress ?? '', Array.isArray(forwarded) ? forwarded.join(',') : forwarded));
    await next();
  };
