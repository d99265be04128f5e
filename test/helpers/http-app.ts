import type { Hono } from 'hono';
import { type AppOptions, createApp } from '../../src/http/app.js';
import type { AppEnv } from '../../src/http/env.js';
import { createLogger } from '../../src/core/log.js';
import { McpDispatcher } from '../../src/mcp/protocol.js';
import { createToolRunner } from '../../src/mcp/run-tool.js';
import { Reveals } from '../../src/core/reveals.js';
import { Sessions } from '../../src/core/sessions.js';
import { DEFAULT_USAGE_DAYS } from '../../src/core/activity.js';
import { KeyService } from '../../src/core/service.js';
import { type OrgSetup, type World, createWorld } from '../../src/testing/fixtures.js';

/** An HTTP exchange as a test reads it. */
export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

export interface ErrorBody {
  code: number;
  type: string;
  message: string;
  details: Record<string, unknown>;
}

/** The JSON body, typed as the test expects it. */
export function bodyOf<T = Record<string, unknown>>(answer: Answer): T {
  return answer.json as T;
}

/** The error of an envelope; fails the test when the body is not one. */
export function errorOf(answer: Answer): ErrorBody {
  const error = (answer.json as { error?: ErrorBody } | undefined)?.error;
  if (error === undefined || typeof error.type !== 'string') throw new Error(`expected an error envelope, got ${answer.status} ${answer.text.slice(0, 300)}`);
  return error;
}

export interface Ask {
  /** Sent as Authorization: Bearer … */
  key?: string | undefined;
  headers?: Record<string, string>;
  /** An object is sent as JSON (with its content type unless headers say otherwise); a string as is. */
  body?: unknown;
}

/** The app on a real SQLite database (in memory) with a clock the test moves; no port is opened. */
export interface AppWorld extends World {
  app: Hono<AppEnv>;
  /** Every log line the app wrote, parsed. */
  logs: Array<Record<string, unknown>>;
  ask(method: string, path: string, ask?: Ask): Promise<Answer>;
  /** One JSON-RPC request to an MCP endpoint. */
  rpc(path: string, key: string | undefined, method: string, params?: Record<string, unknown>, headers?: Record<string, string>): Promise<Answer>;
}

/** A body's JSON, or undefined when it is empty or not JSON. */
export function jsonOf(text: string): unknown {
  try {
    return text === '' ? undefined : (JSON.parse(text) as unknown);
  } catch {
    return undefined;
  }
}

export async function answerOf(response: Response): Promise<Answer> {
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, json: jsonOf(text) };
}

export async function appWorld(setup: OrgSetup & Partial<Pick<AppOptions, 'readOnly' | 'bodyLimit' | 'maxDepth' | 'host'>> & { publicUrl?: string; usageDays?: number } = {}): Promise<AppWorld> {
  const world = await createWorld(setup);
  const logs: Array<Record<string, unknown>> = [];
  const logger = createLogger('debug', (line) => void logs.push(JSON.parse(line) as Record<string, unknown>));
  const reveals = new Reveals(world.store, world.clock.read);
  const dispatcher = new McpDispatcher({ version: '0.0.0-test', logger, runner: async () => createToolRunner({ logger }) });
  const app = createApp({
    gate: world.gate,
    service: setup.usageDays === undefined ? world.service : new KeyService(world.store, world.clock.read, undefined, { usageDays: setup.usageDays }),
    dispatcher,
    logger,
    version: '0.0.0-test',
    clock: world.clock.read,
    reveals: { reveals, url: (code) => `http://127.0.0.1/reveal/${code}` },
    dashboard: { sessions: new Sessions(world.store, world.gate, world.clock.read), reveals, publicUrl: setup.publicUrl, usageDays: setup.usageDays ?? DEFAULT_USAGE_DAYS },
    readOnly: setup.readOnly,
    bodyLimit: setup.bodyLimit,
    maxDepth: setup.maxDepth,
    host: setup.host,
    health: () => world.store.writeProblem(),
  });
  const ask = async (method: string, path: string, { key, headers = {}, body }: Ask = {}): Promise<Answer> => {
    const sent: Record<string, string> = { ...headers };
    if (key !== undefined) sent.authorization = `Bearer ${key}`;
    let payload: string | undefined;
    if (typeof body === 'string') payload = body;
    else if (body !== undefined) {
      payload = JSON.stringify(body);
      sent['content-type'] ??= 'application/json';
    }
    // As a real client would: app.request() does not add Content-Length by itself.
    if (payload !== undefined) sent['content-length'] ??= String(Buffer.byteLength(payload));
    return answerOf(await app.request(path, { method, headers: sent, body: payload }));
  };
  let id = 0;
  const rpc = (path: string, key: string | undefined, method: string, params?: Record<string, unknown>, headers?: Record<string, string>) =>
    ask('POST', path, { key, headers, body: { jsonrpc: '2.0', id: ++id, method, ...(params && { params }) } });
  return { ...world, app, logs, ask, rpc };
}

/** A key of the world's first organization, made through the service, with the given fields. */
export async function makeKey(world: World, fields: Record<string, unknown> = {}, adminSecret = world.tenant.adminSecret): Promise<{ id: string; secret: string }> {
  // A peeked caller is enough for the service, and charges the admin key nothing.
  const { key, secret } = await world.service.execute('generateKey', await world.callerOf(adminSecret), { name: 'test key', ...fields });
  return { id: key.id, secret };
}
