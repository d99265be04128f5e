import type { KeyApi } from '../core/api.js';
import type { Logger } from '../core/log.js';
import { McpDispatcher } from '../mcp/protocol.js';
import { serveStdio } from '../mcp/stdio.js';
import type { Config } from './config.js';
import { VERSION } from './version.js';

const MISSING_KEY_HINT =
  'Set DISPERSL_API_KEY in the "env" of this MCP server in your client config (Windsurf: ~/.codeium/windsurf/mcp_config.json), then restart the server. Create a first key with: npx dispersl-mcp init';

/** Loads the caller's KeyApi: over a remote REST API, or over the local database. */
async function openApi(config: Config, logger: Logger): Promise<{ api: KeyApi; close(): void }> {
  if (config.baseUrl) {
    const { RemoteKeyApi } = await import('../remote/api.js');
    const api = new RemoteKeyApi({
      baseUrl: config.baseUrl,
      apiKey: config.apiKey,
      logger,
      timeoutMs: config.timeoutMs,
      userAgent: `dispersl-mcp/${VERSION} (remote mode)`,
    });
    return { api, close: () => api.close() };
  }
  const [{ LocalKeyApi }, { LOCAL_IP }, { openLocal }] = await Promise.all([
    import('../core/api.js'),
    import('../core/auth.js'),
    import('./local.js'),
  ]);
  const local = openLocal(config.dbPath);
  return { api: new LocalKeyApi(local.gate, local.service, { token: config.apiKey, ip: LOCAL_IP }), close: () => local.store.close() };
}

/**
 * A KeyApi that opens the real one on first use. The server answers `initialize` before zod and
 * SQLite load (every IDE launch waits for that answer), then loads them while the client goes on.
 * If the database cannot be opened, the server stays up and each call says so instead of dying.
 */
function deferredApi(config: Config, logger: Logger): KeyApi & { load(): Promise<unknown>; close(): void } {
  let opened: Promise<{ api: KeyApi; close(): void }> | undefined;
  const load = () => {
    opened ??= openApi(config, logger).catch((err: unknown) => {
      logger.error('cannot open the key store', { error: err instanceof Error ? err.message : String(err), db: config.dbPath });
      throw err;
    });
    return opened;
  };
  const call =
    <K extends keyof KeyApi>(method: K) =>
    async (...args: Parameters<KeyApi[K]>) => {
      let api: KeyApi;
      try {
        api = (await load()).api;
      } catch (err) {
        const { DisperslError } = await import('../core/errors.js');
        // The model cannot read stderr: say what is wrong (a path, a file state, a version; no SQL) so it can tell the user.
        const reason = (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 300);
        throw new DisperslError('INTERNAL_ERROR', `The server could not open its key store (${config.dbPath}): ${reason}. Fix it, then restart this MCP server.`);
      }
      return (api[method] as (...a: unknown[]) => unknown)(...args);
    };
  return {
    listKeys: call('listKeys'),
    getKey: call('getKey'),
    generateKey: call('generateKey'),
    revokeKey: call('revokeKey'),
    rotateKey: call('rotateKey'),
    updateKey: call('updateKey'),
    whoami: call('whoami'),
    permissions: async () => {
      try {
        return await (await load()).api.permissions();
      } catch {
        return undefined;
      }
    },
    load: () => load().catch(() => undefined),
    close: () => void opened?.then((o) => o.close(), () => undefined),
  } as KeyApi & { load(): Promise<unknown>; close(): void };
}

/** MCP over stdio: the caller is DISPERSL_API_KEY; stdout carries nothing but protocol messages. */
export async function runStdio(config: Config, logger: Logger): Promise<void> {
  const api = deferredApi(config, logger);
  const dispatcher = new McpDispatcher({
    version: VERSION,
    logger,
    runner: async () => (await import('../mcp/run-tool.js')).createToolRunner({ logger, missingKeyHint: MISSING_KEY_HINT }),
  });
  const warmUp = () =>
    setImmediate(() => {
      void dispatcher.warm();
      void api.load();
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
  await serveStdio(dispatcher, { api, readOnly: config.readOnly }, process.stdin, process.stdout, warmUp);
  api.close();
}
