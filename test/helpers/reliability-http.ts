import { request } from 'node:http';
import { type HttpAnswer, rest } from './reliability-proc.js';

/**
 * A REST request held open by its own client: the headers (and the key) go out at once, so the
 * server admits it and takes a concurrency slot, but the JSON body is sent only when the test says.
 * This is the real slow path of a slow client; no hook in the product is needed.
 */
export class HeldRequest {
  private readonly req;
  readonly answer: Promise<HttpAnswer | 'disconnected'>;
  /** Whether the answer (or the hang-up) has come: a request refused on arrival ends at once. */
  ended = false;
  private readonly body: string;

  constructor(base: string, key: string, name = 'held') {
    this.body = JSON.stringify({ name });
    this.req = request(`${base}/v1/api-keys`, {
      method: 'POST',
      agent: false,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(this.body)) },
    });
    this.answer = new Promise<HttpAnswer | 'disconnected'>((resolve) => {
      this.req.on('response', (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c));
        res.on('end', () => {
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: new Headers(res.headers as Record<string, string>), text, json });
        });
      });
      this.req.on('error', () => resolve('disconnected'));
    }).finally(() => (this.ended = true));
    this.req.flushHeaders();
    this.req.write(this.body.slice(0, 3));
  }

  /** Sends the rest of the body: the request completes. */
  complete(): Promise<HttpAnswer | 'disconnected'> {
    this.req.end(this.body.slice(3));
    return this.answer;
  }

  /** Sends a rest of the same length that breaks the JSON: the handler fails with 400. */
  fail(): Promise<HttpAnswer | 'disconnected'> {
    this.req.end('#'.repeat(Buffer.byteLength(this.body) - 3));
    return this.answer;
  }

  /** The client goes away mid-body. */
  disconnect(): void {
    this.req.destroy();
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const HOUR_MS = 3_600_000;

/**
 * Waits, at most 25 s, until the current hour has at least that long to run, so a test that counts
 * the hourly quota never straddles two windows. Returns the window's start (epoch ms).
 */
export async function awayFromHourEdge(): Promise<number> {
  const left = HOUR_MS - (Date.now() % HOUR_MS);
  if (left < 25_000) await sleep(left + 100);
  return Date.now() - (Date.now() % HOUR_MS);
}

/**
 * Polls `probe`, `pauseMs` apart, until `accept` holds or `timeoutMs` has passed (bounded by time,
 * not by a count of probes, which a busy machine answers more slowly); returns the last answer.
 */
export async function until<T>(probe: () => Promise<T>, accept: (value: T) => boolean, timeoutMs = 20_000, pauseMs = 20): Promise<T> {
  let last = await probe();
  for (const giveUp = Date.now() + timeoutMs; !accept(last) && Date.now() < giveUp; ) {
    await sleep(pauseMs);
    last = await probe();
  }
  return last;
}

export function errorType(answer: HttpAnswer): string | undefined {
  return (answer.json as { error?: { type?: string } } | undefined)?.error?.type;
}

/** GET /v1/me as a probe of the key's free slots. */
export function probe(base: string, key: string): Promise<HttpAnswer> {
  return rest(base, 'GET', '/v1/me', key);
}
