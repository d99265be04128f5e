import { describe, expect, it } from 'vitest';
import { TrustedProxies } from './client-address.js';

describe('TrustedProxies', () => {
  const proxies = new TrustedProxies(['127.0.0.1', '10.0.0.0/8', 'fd00::/8']);

  it('takes the client a trusted proxy forwarded, skipping the proxies of the chain', () => {
    expect(proxies.clientOf('127.0.0.1', '203.0.113.7')).toBe('203.0.113.7');
    expect(proxies.clientOf('::ffff:127.0.0.1', '203.0.113.7, 10.1.2.3')).toBe('203.0.113.7');
    expect(proxies.clientOf('fd00::1', '2001:db8::5')).toBe('2001:db8::5');
  });

  it('never believes what the client wrote to the left of the first untrusted hop', () => {
    expect(proxies.clientOf('127.0.0.1', '10.0.0.1, 198.51.100.9, 203.0.113.7')).toBe('203.0.113.7');
    expect(proxies.clientOf('127.0.0.1', '127.0.0.1, 10.9.9.9')).toBe('127.0.0.1');
  });

  it('ignores the header from a peer that is not a trusted proxy', () => {
    expect(proxies.clientOf('198.51.100.9', '203.0.113.7')).toBe('198.51.100.9');
    expect(proxies.clientOf('::ffff:198.51.100.9', undefined)).toBe('198.51.100.9');
  });

  it('stops at a malformed hop, at the last proxy that wrote it', () => {
    expect(proxies.clientOf('127.0.0.1', 'unknown')).toBe('127.0.0.1');
    expect(proxies.clientOf('127.0.0.1', '203.0.113.7, 203.0.113.8:4711, 10.0.0.2')).toBe('10.0.0.2');
  });
});
