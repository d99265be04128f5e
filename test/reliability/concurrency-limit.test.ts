import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { invariantViolations, tempDir } from '../helpers/reliability-db.js';
import { HeldRequest, errorType, probe, until } from '../helpers/reliability-http.js';
import { ServeProcess, cliEnv, initDb, rest } from '../helpers/reliability-proc.js';

/**
 * The concurrency limit counts requests in flight. A request is held open by its own client
 * sending the JSON body slowly (the server has admitted it and waits for the body), so the
 * (N+1)-th request of the key must be refused, and each way a held request ends — completion,
 * a failing handler, the client hanging up — must give its slot back.
 */
const LIMIT = 3;

describe('the concurrency limit of a key over HTTP', () => {
  const tmp = tempDir('concurrency');
  let server: ServeProcess;
  let base: string;
  let key: string;
  const held: HeldRequest[] = [];

  beforeAll(async () => {
    ({ secret: key } = await initDb(tmp.dir, tmp.db(), ['--plan', 'enterprise', '--max-concurrency', String(LIMIT)]));
    server = new ServeProcess(cliEnv(tmp.dir, { DISPERSL_DB: tmp.db() }));
    base = await server.url();
  });

  afterAll(async () => {
    for (const h of held) h.disconnect();
    await server?.stop();
    tmp.cleanup();
  });

  const saturated = () => until(() => probe(base, key), (a) => a.status === 429);
  const free = () => until(() => probe(base, key), (a) => a.status === 200);
  const hold = (name: string) => {
    const h = new HeldRequest(base, key, name);
    held.push(h);
    return h;
  };
  /**
   * Holds one more request and waits until the key is saturated. The probe that saw a slot free may
   * still hold it for a moment after its answer reached the client: a request arriving then is
   * refused, and is held again.
   */
  const holdOneMore = async (name: string) => {
    for (let attempt = 1; ; attempt++) {
      const h = hold(name);
      const last = await until(() => probe(base, key), (a) => a.status === 429 || h.ended);
      if (!h.ended || attempt === 5) return last;
    }
  };

  it('refuses the (N+1)-th concurrent request with CONCURRENCY_LIMIT_EXCEEDED, over REST and MCP', async () => {
    for (let i = 0; i < LIMIT; i++) hold(`held ${i}`);
    const refused = await saturated();
    expect(refused.status).toBe(429);
    expect(errorType(refused)).toBe('CONCURRENCY_LIMIT_EXCEEDED');
    expect((refused.json as { error: { details: { limit: number } } }).error.details.limit).toBe(LIMIT);
    expect(refused.headers.get('retry-after')).toBeTruthy();

    const mcp = await rest(base, 'POST', '/mcp', key, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami', arguments: {} } });
    const result = (mcp.json as { result: { isError?: boolean; content: Array<{ text: string }> } }).result;
    expect(result.isError).toBe(true);
    expect(result.content[0]!.text).toContain('CONCURRENCY_LIMIT_EXCEEDED');
  });

  it('gives the slot back when a held request completes', async () => {
    const answer = await held[0]!.complete();
    expect(answer !== 'disconnected' && answer.status).toBe(201);
    const me = await free();
    expect(me.status).toBe(200);
    expect((await holdOneMore('again after completion')).status).toBe(429);
  });

  it('gives the slot back when the handler fails', async () => {
    const answer = await held[1]!.fail();
    expect(answer !== 'disconnected' && answer.status).toBe(400);
    expect((await free()).status).toBe(200);
    expect((await holdOneMore('again after an error')).status).toBe(429);
  });

  it('gives the slot back when the client disconnects mid-request', async () => {
    held[2]!.disconnect();
    expect((await free()).status).toBe(200);
    expect((await holdOneMore('again after a disconnect')).status).toBe(429);
  });

  it('holds nothing once every request has ended', async () => {
    for (const h of held) h.disconnect();
    const inFlight = (a: { json: unknown }) => (a.json as { limits?: { concurrency: { limit: number; in_flight: number } } }).limits?.concurrency;
    // Hang-ups reach the server a moment later: wait (bounded) until they all have.
    const me = await until(() => probe(base, key), (a) => inFlight(a)?.in_flight === 1);
    expect(me.status).toBe(200);
    const limits = inFlight(me);
    // The probe itself is the only request in flight.
    expect(limits).toEqual({ limit: LIMIT, in_flight: 1 });
    expect(server.stderr).not.toMatch(/"status":5\d\d/);
    expect(invariantViolations(tmp.db())).toEqual([]);
  });
});
