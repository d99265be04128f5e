import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { type IncomingHttpHeaders, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { node22 } from './helpers/node22.js';
import { type Served, serve } from './helpers/http-serve.js';
import { BIN, type Initialized, type Sandbox, init, sandbox } from './helpers/sandbox.js';

/**
 * The official MCP Inspector's CLI mode (`@modelcontextprotocol/inspector`, pinned in package.json;
 * it needs Node 22, installed by the test as for the conformance suite) against a real `serve` over
 * Streamable HTTP and against the real stdio server, in its default era (legacy: `initialize`, then
 * 2025-11-25) and with `--protocol-era modern` (2026-07-28, no handshake). Each run lists the tools
 * and calls whoami. What the Inspector sent is recorded on the way (a loopback proxy for HTTP, a
 * pass-through of stdin for stdio), so a run that quietly fell back to the other era fails too.
 */

const INSPECTOR_DIR = new URL('../node_modules/@modelcontextprotocol/inspector/', import.meta.url);
const inspectorPkg = JSON.parse(readFileSync(new URL('package.json', INSPECTOR_DIR), 'utf8')) as { bin: Record<string, string> };
const INSPECTOR = fileURLToPath(new URL(inspectorPkg.bin['mcp-inspector']!, INSPECTOR_DIR));
const SNAPSHOT = JSON.parse(readFileSync(fileURLToPath(new URL('../toolsnaps/tools.json', import.meta.url)), 'utf8')) as Array<{ name: string }>;
const ALL_TOOLS = ['list_keys', 'get_key', 'generate_key', 'revoke_key', 'rotate_key', 'update_key', 'whoami', 'get_usage', 'list_events'];
const MODERN = '2026-07-28';
const LEGACY = '2025-11-25';
const VERSION_META = 'io.modelcontextprotocol/protocolVersion';

/** Forwards the stdio server's stdin and appends each chunk to a file; stdout and stderr are the server's own. */
const STDIN_TAP = `import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
const [bin, log] = process.argv.slice(2);
const server = spawn(process.execPath, [bin], { stdio: ['pipe', 'inherit', 'inherit'] });
process.stdin.on('data', (chunk) => { appendFileSync(log, chunk); server.stdin.write(chunk); });
process.stdin.on('end', () => server.stdin.end());
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.kill(signal));
server.on('exit', (code) => process.exit(code ?? 1));
`;

/** One JSON-RPC message the Inspector sent, as the server received it. */
interface Sent {
  method?: string;
  id?: unknown;
  params?: { protocolVersion?: string; _meta?: Record<string, unknown> };
  /** The MCP-Protocol-Version header of the HTTP request that carried it (HTTP only). */
  header?: string;
}

let box: Sandbox;
let admin: Initialized;
let served: Served;
let node: string;
let tap: string;

beforeAll(async () => {
  node = node22();
  box = sandbox();
  admin = await init(box);
  served = await serve(box);
  tap = join(box.dir, 'stdin-tap.mjs');
  writeFileSync(tap, STDIN_TAP);
}, 240_000);

afterAll(async () => {
  await served?.stop();
  box?.remove();
});

interface InspectorRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `mcp-inspector --cli …` to its end (killed after 90 s), with HOME in the sandbox and no browser, OAuth or prompt. */
function inspector(args: string[]): Promise<InspectorRun> {
  return new Promise((resolve, reject) => {
    const argv = [INSPECTOR, '--cli', '--format', 'json', '--stored-auth-only', '--connect-timeout', '30000', ...args];
    const child = spawn(node, argv, { cwd: box.dir, env: { PATH: process.env.PATH ?? '', HOME: join(box.dir, 'home'), NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The `result` of a successful run's JSON output; the run's whole output in the failure message otherwise. */
function resultOf(run: InspectorRun, what: string): Record<string, unknown> {
  const context = `${what}: exit ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`;
  expect(run.code, context).toBe(0);
  const parsed = JSON.parse(run.stdout) as { result?: Record<string, unknown> };
  expect(parsed.result, context).toBeDefined();
  return parsed.result!;
}

/** A loopback proxy in front of `serve` that records every JSON-RPC message posted through it. */
async function httpTap(target: string): Promise<{ url: string; sent: Sent[]; close(): Promise<void> }> {
  const upstream = new URL(target);
  const sent: Sent[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (req.method === 'POST') record(sent, body.toString('utf8'), req.headers);
      const headers: IncomingHttpHeaders = { ...req.headers, host: upstream.host };
      const out = request({ hostname: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      out.on('error', () => res.destroy());
      out.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    sent,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function record(sent: Sent[], text: string, headers: IncomingHttpHeaders = {}): void {
  const header = headers['mcp-protocol-version'];
  const parsed = JSON.parse(text) as Sent | Sent[];
  for (const message of Array.isArray(parsed) ? parsed : [parsed]) sent.push(typeof header === 'string' ? { ...message, header } : message);
}

/** The newline-delimited messages the stdio tap saw. */
function stdioSent(log: string): Sent[] {
  const sent: Sent[] = [];
  for (const line of readFileSync(log, 'utf8').split('\n')) if (line.trim() !== '') record(sent, line);
  return sent;
}

/** What a run's messages must show for the era it was asked to speak. */
function expectEra(sent: Sent[], era: 'default' | 'modern', transport: 'http' | 'stdio'): void {
  const trace = JSON.stringify(sent.map(({ method, params, header }) => ({ method, version: params?._meta?.[VERSION_META] ?? params?.protocolVersion, header })));
  const requests = sent.filter((m) => m.id !== undefined && m.method !== undefined);
  expect(requests.map((m) => m.method), trace).toEqual(expect.arrayContaining(['tools/list', 'tools/call']));
  if (era === 'modern') {
    expect(requests.map((m) => m.method), trace).not.toContain('initialize');
    for (const m of requests) {
      expect(m.params?._meta?.[VERSION_META], trace).toBe(MODERN);
      if (transport === 'http') expect(m.header, trace).toBe(MODERN);
    }
  } else {
    const initialize = requests.filter((m) => m.method === 'initialize');
    expect(initialize.length, trace).toBeGreaterThan(0);
    for (const m of initialize) expect(m.params?.protocolVersion, trace).toBe(LEGACY);
    for (const m of requests) expect(m.params?._meta?.[VERSION_META], trace).toBeUndefined();
  }
}

/** tools/list and tools/call whoami through the Inspector; `target` ends with `-- <url or command>`. Checks both answers. */
async function listAndWhoami(target: string[]): Promise<void> {
  const listed = resultOf(await inspector(['--strict', '--method', 'tools/list', ...target]), 'tools/list');
  const tools = listed.tools as Array<{ name: string }>;
  expect(tools.map((t) => t.name)).toEqual(ALL_TOOLS);
  // What the Inspector received is exactly the committed snapshot: names, descriptions, schemas, annotations.
  expect(tools).toEqual(SNAPSHOT);

  const called = resultOf(await inspector(['--method', 'tools/call', '--tool-name', 'whoami', ...target]), 'tools/call whoami');
  expect(called.isError ?? false, JSON.stringify(called.content)).toBe(false);
  const data = called.structuredContent as { organization: Record<string, unknown>; key: Record<string, unknown>; limits: { hourly: { limit: number } } };
  expect(data.organization).toEqual({ id: admin.orgId, name: 'My organization', plan: 'free' });
  expect(data.key).toMatchObject({ id: admin.keyId, name: 'Admin key', start: admin.secret.slice(0, 12), permissions: ['admin'], enabled: true, is_revoked: false });
  expect(data.limits.hourly.limit).toBe(100);
  // The text content is the same JSON, as MCP asks of structured results.
  const content = called.content as Array<{ type: string; text: string }>;
  expect(content).toHaveLength(1);
  expect(content[0]!.type).toBe('text');
  expect(JSON.parse(content[0]!.text)).toEqual(data);
}

describe('the MCP Inspector CLI', () => {
  for (const era of ['default', 'modern'] as const) {
    const eraArgs = era === 'modern' ? ['--protocol-era', 'modern'] : [];
    const label = era === 'modern' ? `--protocol-era modern (${MODERN})` : `its default era (${LEGACY})`;

    it(`lists the tools and calls whoami over Streamable HTTP in ${label}`, async () => {
      const proxy = await httpTap(served.url);
      try {
        await listAndWhoami([...eraArgs, '--header', `Authorization: Bearer ${admin.secret}`, '--', `${proxy.url}/mcp`]);
        expectEra(proxy.sent, era, 'http');
      } finally {
        await proxy.close();
      }
      // The server never answered the Inspector with a 5xx.
      expect(served.stderr()).not.toMatch(/"status":5\d\d/);
    }, 240_000);

    it(`lists the tools and calls whoami over stdio in ${label}`, async () => {
      const log = join(box.dir, `stdin-${era}.ndjson`);
      writeFileSync(log, '');
      const env = ['-e', `DISPERSL_API_KEY=${admin.secret}`, '-e', `DISPERSL_DB=${box.db}`, '-e', `HOME=${join(box.dir, 'home')}`];
      await listAndWhoami([...eraArgs, ...env, '--', process.execPath, tap, BIN, log]);
      expectEra(stdioSent(log), era, 'stdio');
    }, 240_000);
  }
});
