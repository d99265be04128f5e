import type { Plan } from '../core/model.js';
import { type ClientId, clientSnippets, snippet } from './clients.js';
import { type Config, localUrl } from './config.js';
import { describeLocation } from '../store/open.js';
import { openLocal } from './local.js';

export interface InitOptions {
  org: string;
  plan: Plan;
  requestsPerHour?: number | undefined;
  maxConcurrency?: number | undefined;
  /** --client: print these clients' configs; without it, Windsurf's and Cursor's. */
  clients?: readonly ClientId[] | undefined;
}

/** Client configs to paste, each with the key in it: the user sees the key once, here. */
export function clientConfigs(secret: string, serverUrl: string, db: string | undefined) {
  const config = (id: string) => JSON.parse(snippet(id, { origin: serverUrl, secret, db }).text) as Record<string, unknown>;
  return { windsurf: config('windsurf-stdio'), cursorHeader: config('cursor-header'), cursorUrl: config('cursor-url') };
}

/** The chosen clients' ways to connect with the new key, each under the line that says where it goes. */
function chosenClients(clients: readonly ClientId[], secret: string, serverUrl: string, db: string | undefined): string[] {
  return clients.flatMap((client) => clientSnippets(client, { origin: serverUrl, secret, db }).flatMap((s) => [`${s.title}:`, s.text, '']));
}

export interface CreatedOrganization {
  organization: { id: string; name: string; plan: string };
  key: { id: string };
  secret: string;
}

/** What `init` and a bootstrapping `serve` print: the key, once, and the configs that carry it. */
export function announceKey(headline: string, created: CreatedOrganization, config: Config, serverUrl: string, clients?: readonly ClientId[]): string {
  const db = config.dbFromEnv ? config.dbPath : undefined;
  const configs = clientConfigs(created.secret, serverUrl, db);
  const json = (value: unknown) => JSON.stringify(value, null, 2);
  const intro = [
    headline,
    `Admin key ${created.key.id}:`,
    '',
    `  ${created.secret}`,
    '',
    'This key is shown once and cannot be retrieved again. Store it now (a password manager or secret store).',
    '',
  ];
  if (clients !== undefined) return [...intro, ...chosenClients(clients, created.secret, serverUrl, db)].join('\n');
  return [
    ...intro,
    'Windsurf (~/.codeium/windsurf/mcp_config.json), MCP over stdio:',
    json(configs.windsurf),
    '',
    `Cursor (.cursor/mcp.json), while \`dispersl-mcp serve\` runs at ${serverUrl}; the header form keeps the key out of URLs and logs:`,
    json(configs.cursorHeader),
    '',
    'or with the key in the URL path:',
    json(configs.cursorUrl),
    '',
  ].join('\n');
}

export async function runInit(config: Config, options: InitOptions, print: (text: string) => void): Promise<void> {
  const local = await openLocal(config.dbPath);
  try {
    const created = await local.service.createOrganization({
      name: options.org,
      plan: options.plan,
      requests_per_hour: options.requestsPerHour,
      max_concurrency: options.maxConcurrency,
    });
    const { organization } = created;
    const headline = `Created organization "${organization.name}" (${organization.id}, plan ${organization.plan}) in ${describeLocation(config.dbPath)}`;
    print(announceKey(headline, created, config, localUrl(config.host, config.port), options.clients));
  } finally {
    await local.store.close();
  }
}
