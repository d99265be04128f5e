import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

/** Processes and folders for end-to-end tests of remote mode, the package and the example config. */

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = join(ROOT, 'dist/cli/main.js');

/** A temp folder that is also HOME for every process started in it, so ~/.dispersl is never touched. */
export function tempHome(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), `dispersl-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function baseEnv(home: string, extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: home, DISPERSL_LOG_LEVEL: 'warn' };
  for (const [name, value] of Object.entries(extra)) if (value !== undefined) env[name] = value;
  return env;
}

export interface Initialized {
  secret: string;
  keyId: string;
  /** All it printed. */
  output: string;
}

/** `dispersl-mcp init` on dbPath (optionally through another command, e.g. npx); the key is read from its output. */
export function init(home: string, dbPath: string, flags: string[] = [], command: string[] = [process.execPath, CLI], cwd = ROOT, env: Record<string, string> = {}): Initialized {
  const out = spawnSync(command[0]!, [...command.slice(1), 'init', ...flags], {
    cwd,
    env: baseEnv(home, { DISPERSL_DB: dbPath, ...env }),
    encoding: 'utf8',
    timeout: 60_000,
  });
  const secret = /^\s+(pk_live_[0-9A-Za-z]+)$/m.exec(out.stdout ?? '')?.[1];
  const keyId = /Admin key (key_[0-9A-Za-z]+)/.exec(out.stdout ?? '')?.[1];
  if (out.status !== 0 || !secret || !keyId) throw new Error(`init failed (${out.status}): ${out.stderr}`);
  return { secret, keyId, output: out.stdout };
}

export interface Served {
  origin: string;
  base: string;
  stderr(): string;
  stop(): Promise<void>;
}

/** `dispersl-mcp serve --port 0` on dbPath; resolves once it logs the address it listens on. */
export function serve(home: string, dbPath: string, extraEnv: Record<string, string> = {}): Promise<Served> {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0'], {
    env: baseEnv(home, { DISPERSL_DB: dbPath, DISPERSL_LOG_LEVEL: 'info', ...extraEnv }),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`serve did not start within 20 s: ${stderr}`));
    }, 20_000);
    const early = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`serve exited (${code}): ${stderr}`));
    };
    child.once('exit', early);
    let started = false;
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      if (started) return;
      const origin = /"msg":"dispersl-mcp serve listening"[^\n]*"url":"([^"]+)"/.exec(stderr)?.[1];
      if (origin === undefined) return;
      started = true;
      clearTimeout(timer);
      child.off('exit', early);
      resolve({ origin, base: `${origin}/v1`, stderr: () => stderr, stop: () => stop(child, exited) });
    });
  });
}

async function stop(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

export interface StdioServer {
  client: Client;
  transport: StdioClientTransport;
  stderr(): string;
  close(): Promise<void>;
}

/** An MCP SDK client on a stdio server started with `command` (by default `node dist/cli/main.js`). */
export async function stdio(env: Record<string, string>, command: string[] = [process.execPath, CLI], cwd = ROOT): Promise<StdioServer> {
  const transport = new StdioClientTransport({ command: command[0]!, args: command.slice(1), env, cwd, stderr: 'pipe' });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const client = new Client({ name: 'dispersl-e2e', version: '1.0.0' });
  try {
    await client.connect(transport);
  } catch (err) {
    throw new Error(`the stdio server did not start: ${err instanceof Error ? err.message : String(err)}; stderr: ${stderr}`);
  }
  return { client, transport, stderr: () => stderr, close: () => client.close() };
}

export interface Outcome {
  ok: boolean;
  /** The result's text: the JSON of the value, or of the error envelope. */
  text: string;
  value: Record<string, unknown>;
}

/** tools/call through the SDK client (which checks structuredContent against the tool's outputSchema). */
export async function call(server: StdioServer, name: string, args: Record<string, unknown> = {}): Promise<Outcome> {
  const result = (await server.client.callTool({ name, arguments: args })) as { isError?: boolean; content: Array<{ text: string }> };
  const text = result.content[0]?.text ?? '';
  return { ok: result.isError !== true, text, value: JSON.parse(text) as Record<string, unknown> };
}

/** A REST call with a key, answered as status and parsed body. */
export async function rest(base: string, key: string | undefined, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...(key !== undefined && { authorization: `Bearer ${key}` }), ...(body !== undefined && { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
}
