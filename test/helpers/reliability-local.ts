import { LocalKeyApi } from '../../src/core/api.js';
import { Gate, LOCAL_IP } from '../../src/core/auth.js';
import { type Logger, createLogger } from '../../src/core/log.js';
import type { Plan } from '../../src/core/model.js';
import { KeyService } from '../../src/core/service.js';
import { McpDispatcher } from '../../src/mcp/protocol.js';
import { createToolRunner } from '../../src/mcp/run-tool.js';
import { SqliteStore } from '../../src/store/sqlite.js';

/** A log that keeps every line, so tests can search it for secrets. */
export function capturingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: createLogger('debug', (line) => lines.push(line)), lines };
}

export interface LocalWorld {
  store: SqliteStore;
  gate: Gate;
  service: KeyService;
  logger: Logger;
  logLines: string[];
  /** A dispatcher wired exactly as the stdio server wires it (real tool runner, real LocalKeyApi). */
  dispatcher: McpDispatcher;
  apiFor(token: string | undefined, ip?: string): LocalKeyApi;
  createOrg(plan?: Plan, limits?: { requests_per_hour?: number; max_concurrency?: number }): Promise<{ orgId: string; keyId: string; secret: string }>;
  close(): Promise<void>;
}

/** The service as one process runs it, on a real SQLite file. */
export function openWorld(dbPath: string): LocalWorld {
  const store = new SqliteStore(dbPath);
  const gate = new Gate(store);
  const service = new KeyService(store);
  const { logger, lines } = capturingLogger();
  const dispatcher = new McpDispatcher({ version: 'test', logger, runner: async () => createToolRunner({ logger, missingKeyHint: 'set DISPERSL_API_KEY' }) });
  return {
    store,
    gate,
    service,
    logger,
    logLines: lines,
    dispatcher,
    apiFor: (token, ip = LOCAL_IP) => new LocalKeyApi(gate, service, { token, ip }),
    createOrg: async (plan = 'enterprise', limits = {}) => {
      const created = await service.createOrganization({ name: 'Reliability', plan, ...limits });
      return { orgId: created.organization.id, keyId: created.key.id, secret: created.secret };
    },
    close: () => store.close(),
  };
}
