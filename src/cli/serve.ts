import type { Logger } from '../core/log.js';
import { isLoopbackName } from '../http/origin.js';
import { type Config, localUrl } from './config.js';
import { type CreatedOrganization, announceKey } from './init.js';
import type { Local } from './local.js';
import { VERSION } from './version.js';

/**
 * On a database with no organization yet (a fresh `npm start`), creates one with an admin key.
 * The check and the creation share one write transaction, so two servers starting together on
 * the same empty file create one organization, not two.
 */
function bootstrap(local: Local): CreatedOrganization | undefined {
  return local.store.transaction(() =>
    local.store.organizationCount() === 0 ? local.service.createOrganization({ name: 'My organization', plan: 'free' }) : undefined,
  );
}

/** `dispersl-mcp serve`: the REST API and MCP over HTTP in one server, on the local database. */
export async function runServe(config: Config, logger: Logger): Promise<void> {
  const [{ openLocal }, { createApp }, { startServer }, { McpDispatcher }, { createToolRunner }, { AccessTokens }] = await Promise.all([
    import('./local.js'),
    import('../http/app.js'),
    import('../http/server.js'),
    import('../mcp/protocol.js'),
    import('../mcp/run-tool.js'),
    import('../oauth/access-tokens.js'),
  ]);
  // The OAuth issuer: DISPERSL_PUBLIC_URL, else where this machine reaches the server (its port known once listening).
  let publicUrl = config.publicUrl ?? localUrl(config.host, config.port);
  let tokens: InstanceType<typeof AccessTokens> | undefined;
  const local = openLocal(config.dbPath, {
    accessTokens: (store) => (tokens = new AccessTokens(store, { issuer: () => publicUrl, encryptionKey: config.secretKey })),
  });
  const oauth = tokens && { tokens, authenticate: local.gate.peek.bind(local.gate) };
  let server;
  let created: CreatedOrganization | undefined;
  try {
    // A missing or wrong DISPERSL_SECRET_KEY fails here, before listening, rather than at the first token.
    tokens?.signingKeys.prepare();
    const dispatcher = new McpDispatcher({ version: VERSION, logger, runner: async () => createToolRunner({ logger }) });
    await dispatcher.warm();
    const app = createApp({
      gate: local.gate,
      service: local.service,
      dispatcher,
      logger,
      version: VERSION,
      host: config.host,
      readOnly: config.readOnly,
      oauth,
      health: () => local.store.writeProblem(),
    });
    server = await startServer({ app, host: config.host, port: config.port, logger, maxConnectionsPerAddress: config.maxConnections });
    if (config.publicUrl === undefined) publicUrl = localUrl(config.host, server.port);
    // Only once the port is ours: a start that fails (port in use) must not create an organization whose key no one sees.
    created = bootstrap(local);
  } catch (err) {
    await server?.close();
    local.store.close();
    throw err;
  }
  if (created) {
    const headline = `The database ${config.dbPath} had no organization: created "${created.organization.name}" (${created.organization.id}, plan free).`;
    process.stdout.write(announceKey(headline, created, config, localUrl(config.host, server.port)));
  }
  if (!isLoopbackName(config.host)) {
    logger.warn(
      `serve is bound to ${config.host}, reachable from other machines: keys and tokens cross the network in plain http unless a TLS-terminating proxy is in front; use --host 127.0.0.1 to serve this machine only`,
      { host: config.host },
    );
  }
  logger.info('dispersl-mcp serve listening', {
    version: VERSION,
    url: server.url,
    db: config.dbPath,
    read_only: config.readOnly,
    signing_secrets: config.secretKey === undefined ? 'plain' : 'encrypted',
  });

  const running = server;
  await new Promise<void>((resolve) => {
    // One signal drains; with the handlers gone, a second one ends the process at once.
    const stop = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', stop).off('SIGINT', stop);
      logger.info('shutting down: finishing in-flight requests', { signal });
      void running.close().then(() => {
        local.store.close();
        logger.info('stopped', { signal });
        resolve();
      });
    };
    process.on('SIGTERM', stop).on('SIGINT', stop);
  });
}
