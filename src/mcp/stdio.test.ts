import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../core/log.js';
import { FakeKeyApi } from '../testing/fake-api.js';
import { JSONRPC, McpDispatcher } from './protocol.js';
import { createToolRunner } from './run-tool.js';
import { serveStdio } from './stdio.js';

const dispatcher = new McpDispatcher({
  version: '1.0.0',
  logger: silentLogger,
  runner: async () => createToolRunner({ logger: silentLogger }),
});

/** A server on injected streams, and the lines it writes, parsed. */
function start(api = new FakeKeyApi(async () => ({ ok: true }), ['admin'])) {
  const input = new PassThrough();
  const output = new PassThrough();
  const lines: unknown[] = [];
  let text = '';
  let firstAnswers = 0;
  const waiters: Array<() => void> = [];
  output.setEncoding('utf8').on('data', (chunk: string) => {
    text += chunk;
    let newline = text.indexOf('\n');
    while (newline !== -1) {
      lines.push(JSON.parse(text.slice(0, newline)));
      text = text.slice(newline + 1);
      newline = text.indexOf('\n');
    }
    for (const wake of waiters.splice(0)) wake();
  });
  const done = serveStdio(dispatcher, { api, readOnly: false }, input, output, () => firstAnswers++);
  /** Resolves once `n` lines have been written in all. */
  const linesUntil = async (n: number) => {
    for (let i = 0; i < 1_000 && lines.length < n; i++) await new Promise<void>((wake) => waiters.push(wake));
    return lines.slice(0, n);
  };
  return { input, lines, linesUntil, done, firstAnswers: () => firstAnswers, api };
}

const msg = (id: number | undefined, method: string, params: Record<string, unknown> = {}) =>
  `${JSON.stringify({ jsonrpc: '2.0', ...(id !== undefined && { id }), method, params })}\n`;

describe('serveStdio', () => {
  it('answers each request on its own line, and notifications not at all', async () => {
    const s = start();
    s.input.write(msg(1, 'initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } }));
    s.input.write(msg(undefined, 'notifications/initialized'));
    s.input.write(msg(2, 'ping'));
    s.input.end();
    await s.done;
    expect(s.lines).toEqual([
      { jsonrpc: '2.0', id: 1, result: expect.objectContaining({ protocolVersion: '2025-06-18' }) },
      { jsonrpc: '2.0', id: 2, result: {} },
    ]);
    expect(s.firstAnswers()).toBe(1);
  });

  it('answers -32700 for a line that is not JSON, and goes on serving', async () => {
    const s = start();
    s.input.write('{"jsonrpc": "2.0", "id": 1, "method": \n');
    s.input.write('\n   \n');
    s.input.write(msg(2, 'ping'));
    s.input.end();
    await s.done;
    expect(s.lines).toEqual([
      { jsonrpc: '2.0', id: null, error: { code: JSONRPC.PARSE_ERROR, message: expect.any(String) } },
      { jsonrpc: '2.0', id: 2, result: {} },
    ]);
  });

  it('puts together messages split across chunks and splits chunks holding several', async () => {
    const s = start();
    const line = msg(1, 'ping');
    s.input.write(line.slice(0, 10));
    s.input.write(line.slice(10) + msg(2, 'ping') + msg(3, 'tools/list').slice(0, 5));
    s.input.write(msg(3, 'tools/list').slice(5));
    s.input.end();
    await s.done;
    expect(s.lines.map((l) => (l as { id: number }).id)).toEqual([1, 2, 3]);
  });

  it('answers a batch as one line, leaving out its notifications', async () => {
    const s = start();
    const batch = [
      { jsonrpc: '2.0', id: 1, method: 'ping' },
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      { jsonrpc: '2.0', id: 2, method: 'nope' },
    ];
    s.input.write(`${JSON.stringify(batch)}\n`);
    s.input.write(`${JSON.stringify([{ jsonrpc: '2.0', method: 'notifications/initialized' }])}\n`);
    s.input.end();
    await s.done;
    expect(s.lines).toEqual([
      [
        { jsonrpc: '2.0', id: 1, result: {} },
        { jsonrpc: '2.0', id: 2, error: { code: JSONRPC.METHOD_NOT_FOUND, message: expect.any(String) } },
      ],
    ]);
  });

  it('answers each request when it is ready, so a slow tool call does not hold up a ping', async () => {
    let finish: (value: unknown) => void = () => {};
    const slow = new FakeKeyApi((method) => (method === 'whoami' ? new Promise((resolve) => (finish = resolve)) : Promise.resolve({})), ['admin']);
    const s = start(slow);
    s.input.write(msg(1, 'tools/call', { name: 'whoami', arguments: {} }));
    s.input.write(msg(2, 'ping'));
    expect(await s.linesUntil(1)).toEqual([{ jsonrpc: '2.0', id: 2, result: {} }]);
    s.input.end(); // the end of input waits for the call still running
    finish({ organization: 'x' });
    await s.done;
    expect(s.lines[1]).toMatchObject({ id: 1, result: { structuredContent: { organization: 'x' } } });
  });

  it('serves a last message that has no newline before the input ends', async () => {
    const s = start();
    s.input.end(msg(9, 'ping').trimEnd());
    await s.done;
    expect(s.lines).toEqual([{ jsonrpc: '2.0', id: 9, result: {} }]);
  });

  it('refuses a line larger than it will buffer once, whatever the chunks, then goes on serving', async () => {
    const huge = `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"${'x'.repeat(5 * 1024 * 1024)}"}}\n`;
    for (const chunkSize of [huge.length, 64 * 1024]) {
      const s = start();
      for (let at = 0; at < huge.length; at += chunkSize) s.input.write(huge.slice(at, at + chunkSize));
      s.input.write(msg(2, 'ping'));
      s.input.end();
      await s.done;
      expect(s.lines).toEqual([
        { jsonrpc: '2.0', id: null, error: { code: JSONRPC.INVALID_REQUEST, message: expect.stringContaining('too large') } },
        { jsonrpc: '2.0', id: 2, result: {} },
      ]);
    }
  });
});
