import type { Plan } from '../core/model.js';
import type { Config } from './config.js';
import { openLocal } from './local.js';

export interface InitOptions {
  org: string;
  plan: Plan;
  requestsPerHour?: number | undefined;
  maxConcurrency?: number | undefined;
}

/** Client configs to paste, each with the key in it: the user sees the key once, here. */
export function clientConfigs(secret: string, config: Pick<Config, 'dbPath' | 'host' | 'port'>, customDb: boolean) {
  const env: Record<string, string> = { DISPERSL_API_KEY: secret };
  if (customDb) env.DISPERSL_DB = config.dbPath;
  const base = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${config.port}`;
  return {
    windsurf: { mcpServers: { dispersl: { command: 'npx', args: ['-y', 'dispersl-mcp'], env } } },
    cursorUrl: { mcpServers: { dispersl: { url: `${base}/ot/${secret}` } } },
    cursorHeader: { mcpServers: { dispersl: { url: `${base}/mcp`, headers: { Authorization: `Bearer ${secret}` } } } },
  };
}

export function runInit(config: Config, options: InitOptions, customDb: boolean, print: (text: string) => void): void {
  const local = openLocal(config.dbPath);
  try {
    const { organization, key, secret } = local.service.createOrganization({
      name: options.org,
      plan: options.plan,
      requests_per_hour: options.requestsPerHour,
      max_concurrency: options.maxConcurrency,
    });
    const configs = clientConfigs(secret, config, customDb);
    const json = (value: unknown) => JSON.stringify(value, null, 2);
    print(
      [
        `Created organization "${organization.name}" (${organization.id}, plan ${organization.plan}) in ${config.dbPath}`,
        `Admin key ${key.id}:`,
        '',
        `  ${secret}`,
        '',
        'This key is shown once and cannot be retrieved again. Store it now (a password manager or secret store).',
        '',
        'Windsurf (~/.codeium/windsurf/mcp_config.json), MCP over stdio:',
        json(configs.windsurf),
        '',
        'Cursor (.cursor/mcp.json), once `npx dispersl-mcp serve` runs; the header form keeps the key out of URLs and logs:',
        json(configs.cursorHeader),
        '',
        'or with the key in the URL path:',
        json(configs.cursorUrl),
        '',
      ].join('\n'),
    );
  } finally {
    local.store.close();
  }
}
