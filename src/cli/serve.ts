import type { Logger } from '../core/log.js';
import { isLoopbackName } from '../http/origin.js';
import { describeLocation } from '../store/open.js';
import { type Config, localUrl } from './config.js';
import { type CreatedOrganization, announceKey } from './init.js';
import { VERSION } from './version.js';

/** `dispersl-mcp serve`: the REST API and MCP over HTTP in one server, on the local database. */
export async function runServe(config: Config, logger: Logger): Promise<void> {
  const [{ openLocal }, { createApp }, { startServer }, { McpDispatcher }, { createToolRunner }, { AccessTokens }, { RequestStates, storedRequestStateStore }] =
    await Promise.all([
      import('./local.js'),
      import('../http/app.js'),
      import('../http/server.js'),
      import('../mcp/protocol.js'),
      import('../mcp/run-tool.js'),
      import('../oauth/access-tokens.js'),
      import('../mcp/request-state.js'),
    ]);
  // The OAuth issuer: DISPERSL_PUBLIC_URL, else where this machine reaches the server (its port known once listening).
  let publicUrl = config.publicUrl ?? localUrl(config.host, config.port);
  let tokens: InstanceType<typeof AccessTokens> | undefined;
  const local = await openLocal(config.dbPath, {
    usageDays: config.usageDays,
    accessTokens: (store) => (tokens = new AccessTokens(store, { issuer: () => publicUrl, encryptionKey: config.secretKey })),
  });
  const oauth = tokens && { tokens, authenticate: local.gate.peek.bind(local.gate) };
  let server;
  let created: CreatedOrganization | undefined;
  try {
    // A missing or wrong DISPERSL_SECRET_KEY fails here, before listening, rather than at the first token.
    await tokens?.signingKeys.prepare();
    const [{ Reveals }, { Sessions }, { localDesk }] = await Promise.all([import('../core/reveals.js'), import('../core/sessions.js'), import('../mcp/deliver.js')]);
    const reveals = new Reveals(local.store);
    const revealUrl = (code: string) => `${publicUrl}/reveal/${code}`;
    // Secrets delivered by reveal wait in this database; this server shows them at /reveal/<code>.
    const desk = localDesk(reveals, revealUrl);
    const runner = async () => createToolRunner({ logger, confirm: config.confirm, secretDelivery: config.secretDelivery, reveals: desk });
    const dispatcher = new McpDispatcher({ version: VERSION, logger, runner, confirm: config.confirm });
    await dispatcher.warm();
    const requestStates = new RequestStates(storedRequestStateStore(local.store));
    const app = createApp({
      gate: local.gate,
      service: local.service,
      dispatcher,
      requestStates,
      logger,
      version: VERSION,
      host: config.host,
      readOnly: config.readOnly,
      trustedProxies: config.trustedProxies,
      oauth,
      health: () => local.store.writeProblem(),
      reveals: { reveals, url: revealUrl },
      dashboard: { sessions: new Sessions(local.store, local.gate), reveals, publicUrl: config.publicUrl, usageDays: config.usageDays },
    });
    server = await startServer({ app, host: config.host, port: config.port, logger, maxConnectionsPerAddress: config.maxConnections });
    if (config.publicUrl === undefined) publicUrl = localUrl(config.host, server.port);
    // Only once the port is ours: a start that fails (port in use) must not create an organization whose key no one sees.
    // On a database with no organization yet (a fresh `npm start`), one with an admin key.
    created = await local.service.createFirstOrganization({ name: 'My organization', plan: 'free' });
  } catch (err) {
    await server?.close();
    await local.store.close();
    throw err;
  }
  if (created) {
    const headline = `The database ${describeLocation(config.dbPath)} had no organization: created "${created.organization.name}" (${created.organization.id}, plan free).`;
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
    db: describeLocation(config.dbPath),
    read_only: config.readOnly,
    signing_secrets: config.secretKey === undefined ? 'plain' : 'encrypted',
  });

  const running = server;
  await new Promise<void>((resolve) => {
    // One signal drains; with the handlers gone, a second one ends the process at once.
    const stop = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', stop).off('SIGINT', stop);
      logger.info('shutting down: finishing in-flight requests', { signal });
      void running.close().then(async () => {
        await local.store.close();
        logger.info('stopped', { signal });
        resolve();
      });
    };
    process.on('SIGTERM', stop).on('SIGINT', stop);
  });
}
