import type { KeyApi } from '../core/api.js';
import type { OperationName, OperationResult } from '../core/operations/index.js';
import type { Logger } from '../core/log.js';
import { hashToken } from '../core/tokens.js';
import { ModernDispatcher } from '../mcp/modern.js';
import { McpDispatcher } from '../mcp/protocol.js';
import { RequestStates, memoryRequestStateStore } from '../mcp/request-state.js';
import { serveStdio } from '../mcp/stdio.js';
import { describeLocation } from '../store/open.js';
import { StdioEras } from '../mcp/stdio-eras.js';
import type { RevealDesk } from '../mcp/deliver.js';
import type { KeyView } from '../core/schemas.js';
import type { SealSecret } from '../core/service.js';
import type { Config } from './config.js';
import { VERSION } from './version.js';

const MISSING_KEY_HINT =
  'Set DISPERSL_API_KEY in the "env" of this MCP server in your client config (Windsurf: ~/.codeium/windsurf/mcp_config.json), then restart the server. Create a first key with: npx dispersl-mcp init';

/** Loads the caller's KeyApi: over a remote REST API, or over the local database. */
interface Opened {
  api: KeyApi;
  /** Where secrets delivered by reveal wait: this database, or remote mode's server. */
  desk: RevealDesk;
  close(): void;
}

async function openApi(config: Config, logger: Logger): Promise<Opened> {
  if (config.baseUrl) {
    const { RemoteKeyApi } = await import('../remote/api.js');
    const api = new RemoteKeyApi({
      baseUrl: config.baseUrl,
      apiKey: config.apiKey,
      logger,
      timeoutMs: config.timeoutMs,
      userAgent: `dispersl-mcp/${VERSION} (remote mode)`,
    });
    // The server made the key in its own transaction; the secret is deposited there afterwards.
    const desk: RevealDesk = {
      async issue(call) {
        const result = await call();
        return { result, ...(await api.deposit(String(result.secret))) };
      },
    };
    return { api, desk, close: () => api.close() };
  }
  const [{ LocalKeyApi }, { LOCAL_IP }, { openLocal }, { Reveals }, { localDesk }] = await Promise.all([
    import('../core/api.js'),
    import('../core/auth.js'),
    import('./local.js'),
    import('../core/reveals.js'),
    import('../mcp/deliver.js'),
  ]);
  const local = await openLocal(config.dbPath, { usageDays: config.usageDays });
  // A page exists only where a serve shows this database: DISPERSL_PUBLIC_URL says where.
  const publicUrl = config.publicUrl;
  const desk = localDesk(new Reveals(local.store), publicUrl === undefined ? undefined : (code) => `${publicUrl}/reveal/${code}`);
  return { api: new LocalKeyApi(local.gate, local.service, { token: config.apiKey, ip: LOCAL_IP }), desk, close: () => void local.store.close() };
}

/**
 * A KeyApi that opens the real one on first use. The server answers `initialize` before zod and
 * SQLite load (every IDE launch waits for that answer), then loads them while the client goes on.
 * If the database cannot be opened, the server stays up and each call says so instead of dying.
 */
class DeferredKeyApi implements KeyApi {
  private opened: Promise<Opened> | undefined;

  constructor(
    private readonly config: Config,
    private readonly logger: Logger,
  ) {}

  load(): Promise<Opened> {
    this.opened ??= openApi(this.config, this.logger).catch((err: unknown) => {
      this.logger.error('cannot open the key store', { error: err instanceof Error ? err.message : String(err), db: describeLocation(this.config.dbPath) });
      throw err;
    });
    return this.opened;
  }

  close(): void {
    void this.opened?.then(
      (o) => o.close(),
      () => undefined,
    );
  }

  private async api(): Promise<KeyApi> {
    try {
      return (await this.load()).api;
    } catch (err) {
      const { DisperslError } = await import('../core/errors.js');
      // The model cannot read stderr: say what is wrong (a path, a file state, a version; no SQL) so it can tell the user.
      const reason = (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 300);
      throw new DisperslError('INTERNAL_ERROR', `The server could not open its key store (${describeLocation(this.config.dbPath)}): ${reason}. Fix it, then restart this MCP server.`);
    }
  }

  async call<N extends OperationName>(name: N, input?: unknown, reveal?: SealSecret): Promise<OperationResult<N>> {
    return (await this.api()).call(name, input, reveal);
  }
  async preview(name: OperationName, input?: unknown): Promise<KeyView> {
    const api = await this.api();
    if (api.preview === undefined) throw new Error('no preview');
    return api.preview(name, input);
  }
  async permissions(): Promise<readonly string[] | undefined> {
    try {
      return await (await this.load()).api.permissions();
    } catch {
      return undefined;
    }
  }
}

/** MCP over stdio: the caller is DISPERSL_API_KEY; stdout carries nothing but protocol messages. */
export async function runStdio(config: Config, logger: Logger): Promise<void> {
  const api = new DeferredKeyApi(config, logger);
  const dispatcher = new McpDispatcher({
    version: VERSION,
    logger,
    confirm: config.confirm,
    runner: async () =>
      (await import('../mcp/run-tool.js')).createToolRunner({
        logger,
        missingKeyHint: MISSING_KEY_HINT,
        confirm: config.confirm,
        secretDelivery: config.secretDelivery,
        reveals: { issue: async (call) => (await api.load()).desk.issue(call) },
      }),
  });
  const warmUp = () =>
    setImmediate(() => {
      void dispatcher.warm();
      api.load().catch(() => undefined);
    });
  const shutdown = () => {
    api.close();
    process.exit(0);
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  logger.info('dispersl-mcp stdio ready', {
    version: VERSION,
    mode: config.baseUrl ? 'remote' : 'local',
    read_only: config.readOnly,
    key: config.apiKey ? config.apiKey.slice(0, 12) : null,
  });
  // One connection per process: a requestState only has to come back to this process, so its secret lives in memory.
  const modern = new ModernDispatcher({ dispatcher, states: new RequestStates(memoryRequestStateStore()), logger });
  const principal = hashToken(config.apiKey ?? '');
  await serveStdio(new StdioEras(dispatcher, modern), { api, readOnly: config.readOnly, principal }, process.stdin, process.stdout, warmUp);
  api.close();
}
