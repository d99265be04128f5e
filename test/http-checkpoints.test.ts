import { existsSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { rest, serve, sandboxEachTest } from './helpers/http-serve.js';
import { init } from './helpers/sandbox.js';

const box = sandboxEachTest();

const walSize = (db: string) => (existsSync(`${db}-wal`) ? statSync(`${db}-wal`).size : 0);

describe('the write-ahead log under serve', () => {
  it('stays bounded while every request commits, and is emptied at shutdown', async () => {
    const admin = await init(box(), ['--plan', 'enterprise', '--requests-per-hour', '100000', '--max-concurrency', '100']);
    const server = await serve(box());
    // One caller at a time: each request is a commit of its own (about 8 KiB of log), 3,000 of them.
    let peak = 0;
    for (let i = 0; i < 3_000; i++) {
      const answer = await rest(server.url, 'GET', '/v1/me', { key: admin.secret });
      if (answer.status !== 200) throw new Error(`request ${i} answered ${answer.status}`);
      if (i % 100 === 0) peak = Math.max(peak, walSize(box().db));
    }
    peak = Math.max(peak, walSize(box().db));
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThan(8 * 1024 * 1024);
    expect(server.logs().filter((l) => l.level === 'warn' || l.level === 'error')).toEqual([]);
    expect(await server.stop()).toEqual({ code: 0, signal: null });
    expect(walSize(box().db)).toBe(0);
  });
});
