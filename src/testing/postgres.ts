import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

/**
 * A throwaway PostgreSQL cluster for tests, run from the server binaries the machine has installed
 * (Debian's `postgresql` package puts them under /usr/lib/postgresql/<version>/bin). Not shipped:
 * tsconfig.build.json leaves src/testing out.
 */

const run = promisify(execFile);

/** The newest installed server's bin folder, or undefined when no PostgreSQL is installed. */
export function findPostgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')) && existsSync(join(root, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], 'bin');
}

export interface PgCluster {
  port: number;
  /** The URL of one database on the cluster. */
  url(database: string): string;
  /** A new, empty database; its URL. */
  createDatabase(): Promise<string>;
  /**
   * A new, empty schema in a shared database, as a URL whose connections use only it: as good as a
   * database of its own to a store, and ten times quicker to make (what a test per database wants).
   */
  createSchema(): Promise<string>;
  dropDatabase(url: string): Promise<void>;
  /** Runs SQL on a database as the cluster's superuser. */
  sql<R extends pg.QueryResultRow = Record<string, unknown>>(url: string, text: string, values?: unknown[]): Promise<R[]>;
  /** `pg_ctl restart`: every connection is cut, the server comes back on the same port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** The server refuses to run as root: as root, run its tools as the `postgres` user. */
function asServerUser(file: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', file, ...args]] : [file, args];
}

async function tool(bin: string, name: string, args: string[], timeout = 60_000): Promise<void> {
  const [file, argv] = asServerUser(join(bin, name), args);
  await run(file, argv, { timeout });
}

let serial = 0;

/** A folder the server's user owns. */
async function ownedDir(prefix: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  await chownAll(dir);
  return dir;
}

async function chownAll(path: string): Promise<void> {
  if (process.getuid?.() === 0) await run('chown', ['-R', 'postgres:postgres', path]);
}

/**
 * An initdb'd data folder, made once per machine and server version and copied for every cluster:
 * initdb takes seconds on a busy machine, a copy a fraction of one. Made aside and renamed into
 * place, so test files starting together never see half of one.
 */
async function template(bin: string): Promise<string> {
  const version = bin.split('/').at(-2) ?? 'pg';
  const ready = join(tmpdir(), `dispersl-pg-template-${version}-${process.getuid?.() ?? 0}`);
  if (existsSync(join(ready, 'PG_VERSION'))) return ready;
  const dir = await ownedDir('dispersl-pg-initdb-');
  const data = join(dir, 'data');
  mkdirSync(data, { mode: 0o700 });
  await chownAll(data);
  await tool(bin, 'initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
  try {
    renameSync(data, ready);
  } catch {
    // Another test file made it first: use theirs.
  }
  rmSync(dir, { recursive: true, force: true });
  return ready;
}

/**
 * Starts a cluster in a temp folder on a free loopback port. Where no PostgreSQL is installed it
 * answers undefined after printing one line, except under CI, where that is a failure.
 */
export async function startCluster(label: string): Promise<PgCluster | undefined> {
  const bin = findPostgresBin();
  if (bin === undefined) {
    if (process.env.CI === 'true') throw new Error('PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): CI must install it (.ci/run)');
    console.log(`${label}: skipped, no PostgreSQL installed (apt-get install postgresql)`);
    return undefined;
  }
  const dir = await ownedDir('dispersl-pg-');
  const data = join(dir, 'data');
  cpSync(await template(bin), data, { recursive: true });
  chmodSync(data, 0o700);
  await chownAll(data);
  const port = await freePort();
  const options = [
    `-p ${port}`,
    `-k ${dir}`,
    '-c listen_addresses=127.0.0.1',
    // Throwaway data: nothing needs to survive a crash of the machine (a clean restart still keeps all).
    '-c fsync=off',
    '-c full_page_writes=off',
    '-c max_connections=200',
  ].join(' ');
  const ctl = (args: string[]) => tool(bin, 'pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '60', ...args]);
  await ctl(['-o', options, 'start']);
  // A test process that dies without its afterAll must not leave a server running.
  const stopOnExit = () => {
    const [file, argv] = asServerUser(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', 'stop']);
    try {
      execFileSync(file, argv, { stdio: 'ignore', timeout: 30_000 });
    } catch {
      // Already stopped.
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', stopOnExit);

  const url = (database: string) => `postgres://postgres@127.0.0.1:${port}/${database}`;
  const sql = async <R extends pg.QueryResultRow>(target: string, text: string, values: unknown[] = []): Promise<R[]> => {
    const client = new pg.Client({ connectionString: target });
    await client.connect();
    try {
      return (await client.query<R>(text, values)).rows;
    } finally {
      await client.end();
    }
  };
  let stopped = false;
  let schemasReady: Promise<void> | undefined;
  return {
    port,
    url,
    async createDatabase() {
      const name = `t_${process.pid}_${++serial}`;
      await sql(url('postgres'), `CREATE DATABASE ${name} STRATEGY FILE_COPY`);
      return url(name);
    },
    async createSchema() {
      const name = `s_${process.pid}_${++serial}`;
      if (!schemasReady) schemasReady = sql(url('postgres'), 'CREATE DATABASE schemas').then(() => undefined);
      await schemasReady;
      await sql(url('schemas'), `CREATE SCHEMA ${name}`);
      return `${url('schemas')}?options=${encodeURIComponent(`-c search_path=${name}`)}`;
    },
    async dropDatabase(target) {
      const name = new URL(target).pathname.slice(1);
      await sql(url('postgres'), `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
    sql,
    restart: () => ctl(['-m', 'fast', 'restart']),
    async stop() {
      if (stopped) return;
      stopped = true;
      process.off('exit', stopOnExit);
      try {
        await ctl(['-m', 'immediate', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
