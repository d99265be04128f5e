import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { BIN, type Sandbox } from './sandbox.js';

export interface ErrorBody {
  code: number;
  type: string;
  message: string;
  details: Record<string, unknown>;
}

export type Outcome = { ok: true; data: Record<string, unknown> } | { ok: false; error: ErrorBody };

export interface Session {
  client: Client;
  /** Everything the server wrote to stderr so far. */
  stderr(): string;
  /** Calls a tool; its result, or the envelope of an isError result. */
  call(name: string, args?: Record<string, unknown>): Promise<Outcome>;
  /** Calls a tool that must succeed. */
  ok(name: string, args?: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** Calls a tool that must fail; the error of its envelope. */
  fail(name: string, args?: Record<string, unknown>): Promise<ErrorBody>;
  toolNames(): Promise<string[]>;
  close(): Promise<void>;
}

export interface ConnectOptions {
  /** DISPERSL_API_KEY; absent means none is set. */
  key?: string | undefined;
  args?: string[];
  env?: Record<string, string | undefined>;
}

/** Spawns `node dist/cli/main.js` on the sandbox's database and connects the SDK client to it over stdio. */
export async function connect(box: Sandbox, options: ConnectOptions = {}): Promise<Session> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BIN, ...(options.args ?? [])],
    env: box.env({ DISPERSL_API_KEY: options.key, ...options.env }),
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const client = new Client({ name: 'dispersl-e2e', version: '1.0.0' });
  await client.connect(transport);

  const call = async (name: string, args: Record<string, unknown> = {}): Promise<Outcome> => {
    const result = await client.callTool({ name, arguments: args });
    const content = result.content as Array<{ type: string; text: string }>;
    const text = content[0]?.text ?? '';
    if (result.isError) return { ok: false, error: (JSON.parse(text) as { error: ErrorBody }).error };
    const data = result.structuredContent as Record<string, unknown>;
    if (JSON.stringify(JSON.parse(text)) !== JSON.stringify(data)) throw new Error(`${name}: text and structuredContent differ`);
    return { ok: true, data };
  };
  return {
    client,
    stderr: () => stderr,
    call,
    async ok(name, args) {
      const outcome = await call(name, args);
      if (!outcome.ok) throw new Error(`${name} failed: ${JSON.stringify(outcome.error)}`);
      return outcome.data;
    },
    async fail(name, args) {
      const outcome = await call(name, args);
      if (outcome.ok) throw new Error(`${name} succeeded but should have failed: ${JSON.stringify(outcome.data)}`);
      return outcome.error;
    },
    toolNames: async () => (await client.listTools()).tools.map((t) => t.name),
    close: () => client.close(),
  };
}

/** Sessions opened by a test, closed after it whatever happened. */
export class Sessions {
  private readonly open: Session[] = [];

  async connect(box: Sandbox, options?: ConnectOptions): Promise<Session> {
    const session = await connect(box, options);
    this.open.push(session);
    return session;
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.open.splice(0).map((s) => s.close()));
  }
}

export const READ_TOOLS = ['list_keys', 'get_key', 'whoami', 'get_usage', 'list_events'];
export const ALL_TOOLS = ['list_keys', 'get_key', 'generate_key', 'revoke_key', 'rotate_key', 'update_key', 'whoami', 'get_usage', 'list_events'];
