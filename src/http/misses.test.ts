import { describe, expect, it } from 'vitest';
import { Misses } from './misses.js';

describe('Misses', () => {
  it('refuses an address past its misses until its window ends', () => {
    let now = 0;
    const misses = new Misses(3, 1_000, () => now);
    for (let i = 0; i < 3; i++) {
      expect(misses.limited('192.0.2.1')).toBe(false);
      misses.miss('192.0.2.1');
    }
    expect(misses.limited('192.0.2.1')).toBe(true);
    expect(misses.limited('192.0.2.2')).toBe(false);
    now = 1_000;
    expect(misses.limited('192.0.2.1')).toBe(false);
  });

  it('counts an IPv6 address by its /64, whichever way it is written', () => {
    const misses = new Misses(3, 1_000, () => 0);
    misses.miss('2001:db8:1:2::1');
    misses.miss('2001:db8:1:2:ffff:ffff:ffff:fffe');
    misses.miss('2001:db8:1:2:0:0:0:9');
    expect(misses.limited('2001:db8:1:2::abcd')).toBe(true);
    expect(misses.limited('2001:db8:1:3::1')).toBe(false);
  });

  it('forgets the oldest addresses first when it holds too many', () => {
    const misses = new Misses(1, 60_000, () => 0);
    misses.miss('198.51.100.7');
    for (let i = 0; i < 9_999; i++) misses.miss(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    expect(misses.limited('198.51.100.7')).toBe(true);
    misses.miss('203.0.113.1');
    expect(misses.limited('198.51.100.7')).toBe(false);
    expect(misses.limited('203.0.113.1')).toBe(true);
    expect(misses.limited('10.0.0.1')).toBe(true);
  });
});
