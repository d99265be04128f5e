#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { createLogger } from '../core/log.js';
import { PLANS, type Plan } from '../core/model.js';
import { nameProblem } from '../core/names.js';
import { SECRET_DELIVERIES } from '../mcp/deliver.js';
import { CONFIRM_POLICIES } from '../mcp/protocol.js';
import { CLIENTS, type ClientId, isClientId } from './clients.js';
import { type Config, UsageError, configFromEnv, oneOf, parseMaxConnections, parsePort } from './config.js';
import { VERSION } from './version.js';

const HELP = `dispersl-mcp ${VERSION}: API keys for Dispersl, over MCP (stdio, Streamable HTTP) and a REST API

Usage:
  dispersl-mcp [stdio] [--read-only] [--confirm auto|required|off] [--secret-delivery inline|reveal]
                                         MCP over stdio; the caller is DISPERSL_API_KEY (default)
  dispersl-mcp serve [--host H] [--port P] [--max-connections N] [--read-only] [--confirm …] [--secret-delivery …]
                                         REST API (/v1) and MCP over HTTP (/mcp, /ot/<key>)
  dispersl-mcp reveal <code>             print, once, a secret delivered by reveal (same database,
                                         or the server of DISPERSL_BASE_URL)
  dispersl-mcp init [--org NAME] [--plan free|pro|enterprise]
                    [--requests-per-hour N] [--max-concurrency N] [--client NAME]
                                         create an organization and its first admin key

Options:
  --read-only        hide and refuse the write tools (also DISPERSL_READ_ONLY=1)
  --max-connections N  serve: open connections one client address may hold (default 256)
  --client NAME      init: print this client's config instead of Windsurf's and Cursor's:
                     ${CLIENTS.join(', ')},
                     or all (several with commas)
  --confirm P        ask the human before revoke, rotate and disable: auto (when the client can;
                     default), required (hide and refuse them where it cannot), off (also DISPERSL_CONFIRM)
  --secret-delivery D  inline (new secrets in the tool result; default) or reveal (a one-time link or
                     command instead, so the secret never enters the model's context)
                     (also DISPERSL_SECRET_DELIVERY)
  -h, --help         show this help
  -v, --version      show the version

Environment:
  DISPERSL_API_KEY   the caller's key (stdio)
  DISPERSL_BASE_URL  remote mode: call this REST API (e.g. http://127.0.0.1:8787/v1) instead of a local database
  DISPERSL_TIMEOUT_MS  remote mode: how long one call may take (default 10000)
  DISPERSL_DB        database file (default ~/.dispersl/dispersl.db), or a postgres:// URL
                     (one PostgreSQL database shared by many processes and machines)
  DISPERSL_HOST, DISPERSL_PORT   serve's bind address (default 127.0.0.1:8787)
  DISPERSL_MAX_CONNECTIONS  serve: as --max-connections
  DISPERSL_PUBLIC_URL  serve: the origin clients reach it at (OAuth issuer; default http://<host>:<port>)
  DISPERSL_SECRET_KEY  serve: 32 bytes, base64, that encrypt the OAuth signing secrets in the database
  DISPERSL_LOG_LEVEL debug | info | warn | error | silent (logs go to stderr)
`;

const COMMANDS = ['stdio', 'serve', 'init', 'reveal'] as const;
type Command = (typeof COMMANDS)[number];

function positiveInt(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,12}$/.test(value) || Number(value) < 1) throw new UsageError(`${name} must be a whole number of at least 1, got '${value}'`);
  return Number(value);
}

/** --client: one client, several separated by commas, or `all`. */
function clientList(value: string): ClientId[] {
  const names = value.split(',').map((name) => name.trim().toLowerCase());
  if (names.includes('all')) return [...CLIENTS];
  for (const name of names) if (!isClientId(name)) throw new UsageError(`--client must be one of ${[...CLIENTS, 'all'].join(', ')}, got '${name}'`);
  return [...new Set(names)] as ClientId[];
}

async function main(argv: string[]): Promise<number> {
  const first = argv[0];
  const command: Command = first !== undefined && !first.startsWith('-') ? (first as Command) : 'stdio';
  const args = first === command ? argv.slice(1) : argv;
  if (!COMMANDS.includes(command)) throw new UsageError(`unknown command '${first}'`);

  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: command === 'reveal',
    options: {
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
      ...((command === 'stdio' || command === 'serve') && {
        'read-only': { type: 'boolean' },
        confirm: { type: 'string' },
        'secret-delivery': { type: 'string' },
      }),
      ...(command === 'serve' && { host: { type: 'string' }, port: { type: 'string' }, 'max-connections': { type: 'string' } }),
      ...(command === 'init' && {
        org: { type: 'string' },
        plan: { type: 'string' },
        'requests-per-hour': { type: 'string' },
        'max-concurrency': { type: 'string' },
        client: { type: 'string' },
      }),
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (values.version) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }

  const config: Config = configFromEnv(process.env);
  if (values['read-only']) config.readOnly = true;
  if (typeof values.confirm === 'string') config.confirm = oneOf(values.confirm, CONFIRM_POLICIES, '--confirm');
  if (typeof values['secret-delivery'] === 'string') config.secretDelivery = oneOf(values['secret-delivery'], SECRET_DELIVERIES, '--secret-delivery');
  const logger = createLogger(config.logLevel);

  switch (command) {
    case 'stdio': {
      const { runStdio } = await import('./stdio.js');
      await runStdio(config, logger);
      return -1;
    }
    case 'serve': {
      if (typeof values.host === 'string') config.host = values.host;
      if (typeof values.port === 'string') config.port = parsePort(values.port, '--port');
      const maxConnections = values['max-connections'];
      if (typeof maxConnections === 'string') config.maxConnections = parseMaxConnections(maxConnections, '--max-connections');
      const { runServe } = await import('./serve.js');
      await runServe(config, logger);
      return -1;
    }
    case 'reveal': {
      if (positionals.length !== 1) throw new UsageError('reveal takes one code: dispersl-mcp reveal <code>');
      const { runReveal } = await import('./reveal.js');
      return runReveal(config, positionals[0]!, (text: string) => process.stdout.write(text), (text: string) => process.stderr.write(text));
    }
    case 'init': {
      const plan = (values.plan ?? 'free') as Plan;
      if (!PLANS.includes(plan)) throw new UsageError(`--plan must be one of ${PLANS.join(', ')}, got '${String(values.plan)}'`);
      const requestsPerHour = positiveInt(values['requests-per-hour'] as string | undefined, '--requests-per-hour');
      const maxConcurrency = positiveInt(values['max-concurrency'] as string | undefined, '--max-concurrency');
      if ((requestsPerHour !== undefined || maxConcurrency !== undefined) && plan !== 'enterprise') {
        throw new UsageError('--requests-per-hour and --max-concurrency set custom limits, which only the enterprise plan has (add --plan enterprise)');
      }
      const org = typeof values.org === 'string' ? values.org.trim() : 'My organization';
      if (org.length < 1 || org.length > 100) throw new UsageError('--org must be 1 to 100 characters');
      const problem = nameProblem(org);
      if (problem !== undefined) throw new UsageError(`--org ${problem}`);
      const clients = values.client === undefined ? undefined : clientList(values.client as string);
      const { runInit } = await import('./init.js');
      await runInit(config, { org, plan, requestsPerHour, maxConcurrency, clients }, (text) => process.stdout.write(text));
      return 0;
    }
  }
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') return `the database file is not a valid dispersl database (${err.message})`;
    // ENOTDIR/EISDIR/ENOENT/ELOOP/ENAMETOOLONG come from preparing the database's folder and file.
    if (code === 'SQLITE_CANTOPEN' || /^E(ACCES|PERM|ROFS|NOTDIR|ISDIR|NOENT|LOOP|NAMETOOLONG)$/.test(code ?? '')) return `cannot open the database: ${err.message}`;
    if (code === 'EADDRINUSE') return `the address is already in use: ${err.message}`;
    // PostgreSQL (DISPERSL_DB=postgres://…): unreachable, or refused the login (SQLSTATE class 28, 3D: no such database).
    if (/^(ECONNREFUSED|ENOTFOUND|ETIMEDOUT|EHOSTUNREACH|28...|3D000)$/.test(code ?? '')) return `cannot open the database: ${err.message}`;
    return err.message;
  }
  return String(err);
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    const usage = err instanceof UsageError || (err as NodeJS.ErrnoException)?.code?.startsWith('ERR_PARSE_ARGS');
    // One line, whatever the error: node's parseArgs explains some mistakes over several.
    const text = describe(err).replace(/\s*\n\s*/g, ' ');
    process.stderr.write(`dispersl-mcp: ${text}${usage ? " (see 'dispersl-mcp --help')" : ''}\n`);
    process.exitCode = usage ? 2 : 1;
  },
);
