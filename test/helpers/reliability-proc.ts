import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { type AddressInfo, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

/**
 * The environment of every process a test starts: HOME points into the test's temp folder, so
 * nothing can reach ~/.dispersl even if a database path were missing.
 */
export function cliEnv(home: string, extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: home, DISPERSL_LOG_LEVEL: 'info' };
  for (const [name, value] of Object.entries(extra)) if (value !== undefined) env[name] = value;
  return env;
}

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to completion (bounded by timeoutMs, then killed), capturing both streams. */
export function runCli(args: string[], env: NodeJS.ProcessEnv, options: { input?: string; timeoutMs?: number; stopOnStdout?: RegExp } = {}): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
      // A long-running command (serve) is stopped once it has printed what the test waits for.
      if (options.stopOnStdout?.test(stdout)) child.kill('SIGTERM');
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 15_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

export interface InitResult {
  secret: string;
  keyId: string;
  orgId: string;
  stdout: string;
  stderr: string;
}

/** `dispersl-mcp init` on dbPath; the admin key is read from its output, where it is printed once. */
export async function initDb(home: string, dbPath: string, flags: string[] = []): Promise<InitResult> {
  const out = await runCli(['init', ...flags], cliEnv(home, { DISPERSL_DB: dbPath }));
  if (out.code !== 0) throw new Error(`init failed (${out.code}): ${out.stderr}`);
  const secret = /^\s+(pk_live_[0-9A-Za-z]+)$/m.exec(out.stdout)?.[1];
  const keyId = /Admin key (key_[0-9A-Za-z]+)/.exec(out.stdout)?.[1];
  const orgId = /\((org_[0-9A-Za-z]+), plan/.exec(out.stdout)?.[1];
  if (!secret || !keyId || !orgId) throw new Error(`init printed no key: ${out.stdout}`);
  return { secret, keyId, orgId, stdout: out.stdout, stderr: out.stderr };
}

export interface RpcMessage {
  jsonrpc: '2.0';
  id?: number | string | null;
  result?: Record<string, unknown>;
  error?: { code: number; message: string };
}

/**
 * A stdio MCP server driven line by line: requests can be pipelined (many in flight at once), each
 * answered by id, and everything the server writes is kept (stdout lines and stderr) for inspection.
 */
export class StdioProcess {
  readonly child: ChildProcessWithoutNullStreams;
  readonly lines: string[] = [];
  /** stdout lines that are not JSON (a protocol violation). */
  readonly notJson: string[] = [];
  stderr = '';
  private buffer = '';
  /**
   * Ids of this harness's own requests, far above what tests generate (fc.nat() stays below 2^31):
   * a generated message answered late with a colliding id would otherwise pass for our answer.
   */
  private nextId = 2 ** 52;
  private readonly waiting = new Map<number | string, (message: RpcMessage) => void>();
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(env: NodeJS.ProcessEnv, args: string[] = []) {
    this.child = spawn(process.execPath, [CLI, 'stdio', ...args], { env, stdio: 'pipe' });
    this.child.stdout.setEncoding('utf8').on('data', (chunk: string) => this.onData(chunk));
    this.child.stderr.setEncoding('utf8').on('data', (c: string) => (this.stderr += c));
    this.child.stdin.on('error', () => undefined); // writes after a kill are expected in crash tests
    this.exited = new Promise((resolve) => this.child.on('close', (code, signal) => resolve({ code, signal })));
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let newline = this.buffer.indexOf('\n');
    while (newline !== -1) {
      const line = this.buffer.slice(0, newline);
      this.buffer = this.buffer.slice(newline + 1);
      newline = this.buffer.indexOf('\n');
      this.lines.push(line);
      let message: RpcMessage | RpcMessage[];
      try {
        message = JSON.parse(line) as RpcMessage | RpcMessage[];
      } catch {
        this.notJson.push(line); // stdout must carry nothing but protocol messages: tests assert this stays empty
        continue;
      }
      for (const m of Array.isArray(message) ? message : [message]) {
        if (m.id === undefined || m.id === null) continue;
        this.waiting.get(m.id)?.(m);
        this.waiting.delete(m.id);
      }
    }
  }

  /** Sends one request; resolves with its response, or rejects if none came within timeoutMs. */
  request(method: string, params?: Record<string, unknown>, timeoutMs = 15_000): Promise<RpcMessage> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`no answer to ${method} #${id} within ${timeoutMs} ms; stderr: ${this.stderr.slice(-500)}`));
      }, timeoutMs);
      this.waiting.set(id, (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      this.child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id, method, ...(params && { params }) })}\n`);
    });
  }

  sendRaw(line: string): void {
    this.child.stdin.write(line);
  }

  async initialize(): Promise<RpcMessage> {
    const answer = await this.request('initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'reliability', version: '1' } });
    this.child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })}\n`);
    return answer;
  }

  /** tools/call; resolves with the tool result (structured content or the error envelope). */
  async call(name: string, args: Record<string, unknown> = {}, timeoutMs?: number): Promise<ToolOutcome> {
    return toolOutcome(await this.request('tools/call', { name, arguments: args }, timeoutMs));
  }

  /** Closes stdin (the client went away) and waits for the exit, killing it if it takes longer than timeoutMs. */
  async close(timeoutMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.child.kill(signal);
  }
}

export type ToolOutcome =
  | { ok: true; value: Record<string, unknown>; text: string }
  | { ok: false; error: { code: number; type: string; message: string; details: Record<string, unknown> }; text: string }
  | { ok: false; rpc: { code: number; message: string }; text: string };

export function toolOutcome(message: RpcMessage): ToolOutcome {
  if (message.error) return { ok: false, rpc: message.error, text: JSON.stringify(message) };
  const result = message.result as { isError?: boolean; content: Array<{ text: string }>; structuredContent?: Record<string, unknown> };
  const text = result.content[0]?.text ?? '';
  if (result.isError) return { ok: false, error: (JSON.parse(text) as { error: never }).error, text };
  return { ok: true, value: result.structuredContent ?? {}, text };
}

/** `dispersl-mcp serve` on a free loopback port, with everything it writes kept. */
export class ServeProcess {
  readonly child: ChildProcessWithoutNullStreams;
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly ready: Promise<string>;

  /**
   * With no port, the server picks one and its URL is read from its 'listening' log line. With a
   * port (for a server whose log level hides that line), readiness is polled on /healthz.
   */
  constructor(env: NodeJS.ProcessEnv, options: { port?: number; args?: string[] } = {}) {
    const port = options.port ?? 0;
    this.child = spawn(process.execPath, [CLI, 'serve', '--port', String(port), ...(options.args ?? [])], { env, stdio: 'pipe' });
    this.child.stdout.setEncoding('utf8').on('data', (c: string) => (this.stdout += c));
    this.exited = new Promise((resolve) => this.child.on('close', (code, signal) => resolve({ code, signal })));
    this.ready = new Promise((resolve, reject) => {
      let settled = false;
      const settle = (error: Error | undefined, url?: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error) reject(error);
        else resolve(url!);
      };
      const timer = setTimeout(() => settle(new Error(`serve did not start within 15 s: ${this.stderr}`)), 15_000);
      this.child.stderr.setEncoding('utf8').on('data', (c: string) => {
        this.stderr += c;
        const url = /"msg":"dispersl-mcp serve listening".*?"url":"([^"]+)"/.exec(this.stderr)?.[1];
        if (url) settle(undefined, url);
      });
      if (port !== 0) {
        const url = `http://127.0.0.1:${port}`;
        const poll = async () => {
          for (let i = 0; i < 150 && !settled; i++) {
            const ok = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1_000) }).then((r) => r.ok, () => false);
            if (ok) return settle(undefined, url);
            await new Promise((r) => setTimeout(r, 100));
          }
        };
        void poll();
      }
      void this.exited.then(({ code }) => settle(new Error(`serve exited (${code}) before listening: ${this.stderr}`)));
    });
  }

  /** The base URL (http://127.0.0.1:port) once the server listens. */
  url(): Promise<string> {
    return this.ready;
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.child.kill(signal);
  }

  /** SIGTERM (graceful drain), then SIGKILL if it is still there after timeoutMs. */
  async stop(timeoutMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }
}

/** A loopback port that was free a moment ago (the kernel picks it; it is released before use). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

export interface HttpAnswer {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

/** One REST call with a key; never throws on an HTTP status, only on a network failure or the timeout. */
export async function rest(base: string, method: string, path: string, key: string | undefined, body?: unknown, timeoutMs = 15_000): Promise<HttpAnswer> {
  const headers: Record<string, string> = {};
  if (key !== undefined) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(base + path, {
    method,
    headers,
    ...(body !== undefined && { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}
