import type { Logger } from '../core/log.js';
import type { Config } from './config.js';
import { clientConfigs } from './init.js';
import type { Local } from './local.js';
import { VERSION } from './version.js';

interface Bootstrapped {
  organization: { id: string; name: string };
  key: { id: string };
  secret: string;
}

/**
 * On a database with no organization yet (a fresh `npm start`), creates one with an admin key.
 * The check and the creation share one write transaction, so two servers starting together on
 * the same empty file create one organization, not two.
 */
function bootstrap(local: Local): Bootstrapped | undefined {
  return local.store.transaction(() =>
    local.store.organizationCount() === 0 ? local.service.createOrganization({ name: 'My organization', plan: 'free' }) : undefined,
  );
}

/** Where a client on this machine reaches a server bound to host (a wildcard bind is reached on loopback). */
function reachableHost(host: string): string {
  return host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host;
}

function bootstrapText(created: Bootstrapped, config: Config, port: number): string {
  const configs = clientConfigs(created.secret, { dbPath: config.dbPath, host: reachableHost(config.host), port }, process.env.DISPERSL_DB !== undefined);
  const json = (value: unknown) => JSON.stringify(value, null, 2);
  return [
    `The database ${config.dbPath} had no organization: created "${created.organization.name}" (${created.organization.id}, plan free).`,
    `Admin key ${created.key.id}:`,
    '',
    `  ${created.secret}`,
    '',
    'This key is shown once and cannot be retrieved again. Store it now (a password manager or secret store).',
    '',
    'Cursor (.cursor/mcp.json), with the key in the URL path:',
    json(configs.cursorUrl),
    '',
    'or with the key in a header, which keeps it out of URLs and logs:',
    json(configs.cursorHeader),
    '',
    'Windsurf (~/.codeium/windsurf/mcp_config.json), MCP over stdio:',
    json(configs.windsurf),
    '',
  ].join('\n');
}

/** `dispersl-mcp serve`: the REST API and MCP over HTTP in one server, on the local database. */
export async function runServe(config: Config, logger: Logger): Promise<void> {
  const [{ openLocal }, { createApp }, { startServer }, { McpDispatcher }, { createToolRunner }, { AccessTokens }, { localUrl }] = await Promise.all([
    import('./local.js'),
    import('../http/app.js'),
    import('../http/server.js'),
    import('../mcp/protocol.js'),
    import('../mcp/run-tool.js'),
    import('../oauth/access-tokens.js'),
    import('../oauth/public-url.js'),
  ]);
  // The OAuth issuer: DISPERSL_PUBLIC_URL, else where this machine reaches the server (its port known once listening).
  let publicUrl = config.publicUrl ?? localUrl(config.host, config.port);
  let tokens: InstanceType<typeof AccessTokens> | undefined;
  const local = openLocal(config.dbPath, { accessTokens: (store) => (tokens = new AccessTokens(store, { issuer: () => publicUrl })) });
  const oauth = tokens && { tokens, authenticate: local.gate.peek.bind(local.gate) };
  let server;
  let created: Bootstrapped | undefined;
  try {
    const dispatcher = new McpDispatcher({ version: VERSION, logger, runner: async () => createToolRunner({ logger }) });
    await dispatcher.warm();
    const app = createApp({ gate: local.gate, service: local.service, dispatcher, logger, version: VERSION, host: config.host, readOnly: config.readOnly, oauth });
    server = await startServer({ app, host: config.host, port: config.port, logger });
    if (config.publicUrl === undefined) publicUrl = localUrl(config.host, server.port);
    // Only once the port is ours: a start that fails (port in use) must not create an organization whose key no one sees.
    created = bootstrap(local);
  } catch (err) {
    await server?.close();
    local.store.close();
    throw err;
  }
  if (created) process.stdout.write(bootstrapText(created, config, server.port));
  logger.info('dispersl-mcp serve listening', { version: VERSION, url: server.url, db: config.dbPath, read_only: config.readOnly });

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
