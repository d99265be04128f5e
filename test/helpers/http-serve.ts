import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { request } from 'node:http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { type Answer, answerOf, jsonOf } from './http-app.js';
import { type UploadOptions, upload } from '../../src/testing/upload.js';
import { afterEach, beforeEach } from 'vitest';
import { BIN, type Sandbox, init, sandbox } from './sandbox.js';

/** A `dispersl-mcp serve` process on the sandbox's database, on a free loopback port. */
export interface Served {
  url: string;
  child: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  /** The JSON log lines written so far. */
  logs(): Array<Record<string, unknown>>;
  /** Sends the signal and waits for the process to end (killed if it takes over 15 s). */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Waits for the process to end by itself (killed if it takes over 15 s). */
  exit(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running = new Set<Served>();

export async function serve(box: Sandbox, { host = '127.0.0.1', env = {}, args = [] }: { host?: string; env?: Record<string, string | undefined>; args?: string[] } = {}): Promise<Served> {
  const child = spawn(process.execPath, [BIN, 'serve', '--host', host, '--port', '0', ...args], { env: box.env(env), stdio: 'pipe' });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start within 15 s:\n${stderr}`)), 15_000);
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
      const match = /"msg":"dispersl-mcp serve listening"[^\n]*"url":"([^"]+)"/.exec(stderr);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code} before listening:\n${stderr}`));
    });
  });
  const served: Served = {
    url,
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    logs: () =>
      stderr
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return served.exit();
    },
    async exit() {
      running.delete(served);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
  running.add(served);
  return served;
}

/** Stops every server a test left running (for afterEach). */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((s) => s.stop('SIGKILL')));
}

export type HttpAnswer = Answer;

export interface Call {
  key?: string;
  headers?: Record<string, string>;
  body?: unknown;
}

/** One REST request over real HTTP (fetch, so no Origin header is sent). */
export async function rest(base: string, method: string, path: string, { key, headers = {}, body }: Call = {}): Promise<HttpAnswer> {
  const sent: Record<string, string> = { ...headers };
  if (key !== undefined) sent.authorization = `Bearer ${key}`;
  let payload: string | undefined;
  if (body !== undefined) {
    payload = typeof body === 'string' ? body : JSON.stringify(body);
    sent['content-type'] ??= 'application/json';
  }
  return answerOf(await fetch(`${base}${path}`, { method, headers: sent, body: payload }));
}

/** A raw request with node:http, for what fetch will not send (a Host header, a chunked body without length). */
export function raw(base: string, method: string, path: string, headers: Record<string, string>, body?: string | Buffer | Buffer[]): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { method, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: new Headers(res.headers as Record<string, string>), text, json: jsonOf(text) }));
    });
    req.on('error', reject);
    if (Array.isArray(body)) {
      for (const chunk of body) req.write(chunk);
      req.end();
    } else req.end(body);
  });
}

/**
 * A large body sent as a real client sends it (the whole of it handed to node:http, or streamed
 * chunked), the answer read whenever it comes: how curl, fetch or a proxy meet a body limit.
 */
export async function rawUpload(base: string, path: string, headers: Record<string, string>, options: UploadOptions): Promise<HttpAnswer & { sendError?: string }> {
  const answer = await upload(`${base}${path}`, { ...options, headers });
  return { ...answer, json: jsonOf(answer.text) };
}

export function errorType(answer: HttpAnswer): string | undefined {
  return (answer.json as { error?: { type?: string } } | undefined)?.error?.type;
}

/** The SDK client over Streamable HTTP, with the key in a header (/mcp) or already in the URL (/ot/<key>). */
export async function httpClient(url: string, key?: string): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL(url), key === undefined ? {} : { requestInit: { headers: { Authorization: `Bearer ${key}` } } });
  const client = new Client({ name: 'dispersl-http-e2e', version: '1.0.0' });
  await client.connect(transport);
  return client;
}

export interface ToolOutcome {
  ok: boolean;
  data: Record<string, unknown>;
}

/** A tool call's structured result, or the envelope's error for an isError result. */
export async function tool(client: Client, name: string, args: Record<string, unknown> = {}): Promise<ToolOutcome> {
  const result = await client.callTool({ name, arguments: args });
  const text = (result.content as Array<{ text: string }>)[0]?.text ?? '';
  if (result.isError) return { ok: false, data: (JSON.parse(text) as { error: Record<string, unknown> }).error };
  return { ok: true, data: result.structuredContent as Record<string, unknown> };
}

/**
 * A POST whose headers (and key) go out at once but whose body waits for `finish()`: the server has
 * admitted it and is reading its body, which is what "in flight" means for a graceful shutdown.
 */
export function heldPost(base: string, path: string, key: string, body: unknown): { finish(): Promise<HttpAnswer> } {
  const text = JSON.stringify(body);
  let settle: (answer: HttpAnswer) => void = () => {};
  let fail: (err: Error) => void = () => {};
  const answer = new Promise<HttpAnswer>((resolve, reject) => {
    settle = resolve;
    fail = reject;
  });
  const req = request(`${base}${path}`, {
    method: 'POST',
    agent: false,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) },
  });
  req.on('response', (res) => {
    let out = '';
    res.setEncoding('utf8').on('data', (c: string) => (out += c));
    res.on('end', () => settle({ status: res.statusCode ?? 0, headers: new Headers(res.headers as Record<string, string>), text: out, json: jsonOf(out) }));
  });
  req.on('error', fail);
  req.flushHeaders();
  req.write(text.slice(0, 1));
  return {
    finish() {
      req.end(text.slice(1));
      return answer;
    },
  };
}

/** A fresh sandbox for each test of a file, removed after it with every server the test left running. */
export function sandboxEachTest(): () => Sandbox {
  let box: Sandbox | undefined;
  beforeEach(() => {
    box = sandbox();
  });
  afterEach(async () => {
    await stopAll();
    box?.remove();
  });
  return () => box!;
}

/** A test's sandbox, the admin key `init` made in it, and the clients the test opened (closed after it). */
export interface AdminSandbox {
  box: Sandbox;
  admin: string;
  closers: Array<() => Promise<unknown>>;
}

/** A fresh sandbox and admin key for each test of a file; after each, its clients are closed, its servers stopped and the sandbox removed. */
export function adminSandboxEachTest(initFlags: string[] = []): AdminSandbox {
  const t: Partial<AdminSandbox> & Pick<AdminSandbox, 'closers'> = { closers: [] };
  beforeEach(async () => {
    t.box = sandbox();
    t.admin = (await init(t.box, initFlags)).secret;
  });
  afterEach(async () => {
    await Promise.all(t.closers.splice(0).map((close) => close().catch(() => undefined)));
    await stopAll();
    t.box?.remove();
  });
  return t as AdminSandbox;
}
