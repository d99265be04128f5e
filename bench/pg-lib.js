// A throwaway PostgreSQL cluster for the benchmarks, from the installed server binaries
// (Debian's `postgresql`: /usr/lib/postgresql/<version>/bin), with the server's default durability
// (fsync on, synchronous_commit on): the figures are those of a real deployment's settings.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './http-lib.js';

function serverBin() {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a)) : [];
  if (versions.length === 0) throw new Error('PostgreSQL is not installed: apt-get update && apt-get install -y postgresql');
  return join(root, versions[0], 'bin');
}

/** The server refuses to run as root: as root, its tools run as the `postgres` user. */
function tool(bin, name, args) {
  const asRoot = process.getuid?.() === 0;
  execFileSync(asRoot ? 'runuser' : join(bin, name), asRoot ? ['-u', 'postgres', '--', join(bin, name), ...args] : args, { stdio: 'ignore', timeout: 120_000 });
}

export async function startCluster({ maxConnections = 200 } = {}) {
  const bin = serverBin();
  const dir = mkdtempSync(join(tmpdir(), 'dispersl-bench-pg-'));
  const data = join(dir, 'data');
  mkdirSync(data, { mode: 0o700 });
  if (process.getuid?.() === 0) execFileSync('chown', ['-R', 'postgres:postgres', dir]);
  tool(bin, 'initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
  const port = await freePort();
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=${maxConnections}`;
  tool(bin, 'pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-w', '-o', options, 'start']);
  const url = (database) => `postgres://postgres@127.0.0.1:${port}/${database}`;
  let n = 0;
  return {
    url,
    async createDatabase() {
      const name = `bench_${++n}`;
      const client = new pg.Client({ connectionString: url('postgres') });
      await client.connect();
      await client.query(`CREATE DATABASE ${name}`);
      await client.end();
      return url(name);
    },
    stop() {
      try {
        tool(bin, 'pg_ctl', ['-D', data, '-m', 'immediate', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
