import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { type AddressInfo, type Server, createServer } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query, tempDir } from '../helpers/reliability-db.js';
import { StdioProcess, cliEnv, initDb, runCli } from '../helpers/reliability-proc.js';

/**
 * A broken environment must give one clear line and one exit code, leave every file as it was,
 * and never turn into a crash loop: `init` exits 1 once; the stdio server (which an IDE would
 * restart if it died) stays up and answers each tool call with the reason instead.
 */

const tmp = tempDir('badenv');
const isRoot = process.getuid?.() === 0;

/** What a path holds: a file's bytes (hashed), a folder's entries, or nothing. */
function fingerprint(path: string): string {
  if (!existsSync(path)) return 'absent';
  if (statSync(path).isDirectory()) return `folder: ${readdirSync(path).join(',')}`;
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

interface BadCase {
  name: string;
  /** Prepares the case in a fresh folder and returns the database path to use. */
  setup(dir: string): string;
  /** What the one-line error must say. */
  says: RegExp;
  /** The reason the stdio server gives in each tool call's error. */
  reason: RegExp;
  /** Whether the path names an existing file whose bytes must not change. */
  file: boolean;
}

const cases: BadCase[] = [
  {
    // Works for root too: no permission bit stops root, but no one can create a file below a regular file.
    name: 'a database path below a regular file',
    setup: (dir) => {
      writeFileSync(join(dir, 'plain-file'), 'not a folder');
      return join(dir, 'plain-file', 'dispersl.db');
    },
    says: /cannot open the database/,
    reason: /not a directory/,
    file: false,
  },
  {
    name: 'a database path that is a folder',
    setup: (dir) => {
      mkdirSync(join(dir, 'a-folder'));
      return join(dir, 'a-folder');
    },
    says: /cannot open the database/,
    reason: /unable to open database file/,
    file: false,
  },
  {
    name: 'a file that is not a database',
    setup: (dir) => {
      const path = join(dir, 'garbage.db');
      writeFileSync(path, Buffer.from(Array.from({ length: 8192 }, (_, i) => (i * 7919) % 251)));
      return path;
    },
    says: /not a valid dispersl database/,
    reason: /file is not a database/,
    file: true,
  },
  {
    name: 'a database from a newer schema version',
    setup: (dir) => {
      const path = join(dir, 'newer.db');
      const db = new Database(path);
      db.exec('CREATE TABLE future (x)');
      db.pragma('user_version = 999');
      db.close();
      return path;
    },
    says: /schema version 999, newer than this dispersl-mcp supports .*upgrade dispersl-mcp/,
    reason: /schema version 999, newer than this dispersl-mcp supports/,
    file: true,
  },
];

afterAll(async () => tmp.cleanup());

/** A fresh folder inside the test's temp folder. */
function folder(name: string): string {
  const dir = join(tmp.dir, name);
  mkdirSync(dir);
  return dir;
}

describe('init in a bad environment', () => {
  for (const c of cases) {
    it(`exits 1 with one line and touches nothing: ${c.name}`, async () => {
      const db = c.setup(folder(`init-${cases.indexOf(c)}`));
      const before = fingerprint(db);
      const out = await runCli(['init'], cliEnv(tmp.dir, { DISPERSL_DB: db }));
      expect(out.code).toBe(1);
      expect(out.stdout).toBe('');
      expect(out.stderr).toMatch(/^dispersl-mcp: [^\n]+\n$/);
      expect(out.stderr).toMatch(c.says);
      expect(out.stderr).not.toMatch(/\n\s+at /); // no stack trace
      expect(fingerprint(db)).toBe(before);
      if (c.file) for (const suffix of ['-wal', '-shm', '-journal']) expect(existsSync(db + suffix), suffix).toBe(false);
    });
  }

  it('exits 1 with one line and leaves a damaged database as it was', async () => {
    const db = join(tmp.dir, 'damaged.db');
    for (let i = 0; i < 3; i++) await initDb(tmp.dir, db);
    // Cut the file inside its tables: the header still reads, the pages behind it are gone.
    truncateSync(db, 9000);
    const before = fingerprint(db);
    const out = await runCli(['init'], cliEnv(tmp.dir, { DISPERSL_DB: db }));
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/^dispersl-mcp: the database file is not a valid dispersl database[^\n]*\n$/);
    expect(fingerprint(db)).toBe(before);
  });

  it.runIf(!isRoot)('exits 1 with one line when the folder is not writable (non-root only: root writes anyway)', async () => {
    const dir = join(tmp.dir, 'read-only');
    mkdirSync(dir);
    chmodSync(dir, 0o500);
    try {
      const out = await runCli(['init'], cliEnv(tmp.dir, { DISPERSL_DB: join(dir, 'dispersl.db') }));
      expect(out.code).toBe(1);
      expect(out.stderr).toMatch(/^dispersl-mcp: cannot open the database[^\n]*\n$/);
    } finally {
      chmodSync(dir, 0o700);
    }
  });
});

describe('the stdio server in a bad environment', () => {
  const stdioCases = cases.map((c) => ({ ...c, db: '' }));
  beforeAll(async () => {
    stdioCases.forEach((c, i) => (c.db = c.setup(folder(`stdio-${i}`))));
  });

  for (const c of stdioCases) {
    it(`stays up, answers each call with the reason, logs it once and touches nothing: ${c.name}`, async () => {
      const before = fingerprint(c.db);
      const server = new StdioProcess(cliEnv(tmp.dir, { DISPERSL_DB: c.db, DISPERSL_API_KEY: 'pk_live_0000000000000000000000000000000000000' }));
      const init = await server.initialize();
      expect(init.result?.serverInfo).toMatchObject({ name: 'dispersl-mcp' });
      for (const tool of ['whoami', 'list_keys', 'generate_key']) {
        const outcome = await server.call(tool, tool === 'generate_key' ? { name: 'x' } : {});
        expect(outcome.ok).toBe(false);
        const error = 'error' in outcome ? outcome.error : undefined;
        expect(error?.type).toBe('INTERNAL_ERROR');
        expect(error?.message).toContain(`could not open its key store (${c.db}): `);
        expect(error?.message).toMatch(c.reason);
      }
      const exit = await server.close();
      expect(exit.code).toBe(0);
      expect(server.notJson).toEqual([]);
      const opens = server.stderr.split('\n').filter((line) => line.includes('cannot open the key store'));
      expect(opens).toHaveLength(1);
      expect(fingerprint(c.db)).toBe(before);
    });
  }
});

describe('serve in a bad environment', () => {
  for (const c of cases) {
    it(`exits 1 with one line and touches nothing: ${c.name}`, async () => {
      const db = c.setup(folder(`serve-${cases.indexOf(c)}`));
      const before = fingerprint(db);
      const out = await runCli(['serve', '--port', '0'], cliEnv(tmp.dir, { DISPERSL_DB: db }), { timeoutMs: 10_000 });
      expect(out.code).toBe(1);
      expect(out.stdout).toBe('');
      expect(out.stderr).toMatch(/^dispersl-mcp: [^\n]+\n$/);
      expect(out.stderr).toMatch(c.says);
      expect(fingerprint(db)).toBe(before);
    });
  }
});

describe('serve on a port already in use', () => {
  let blocker: Server;
  let port: number;

  beforeAll(async () => {
    blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    port = (blocker.address() as AddressInfo).port;
  });
  afterAll(async () => new Promise<void>((resolve) => blocker.close(() => resolve())));

  it('exits 1 with one line and leaves an existing database as it was', async () => {
    const db = join(folder('port-existing'), 'dispersl.db');
    await initDb(tmp.dir, db);
    const before = fingerprint(db);
    const out = await runCli(['serve', '--port', String(port)], cliEnv(tmp.dir, { DISPERSL_DB: db }));
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(new RegExp(`^dispersl-mcp: the address is already in use[^\\n]*${port}[^\\n]*\\n$`));
    expect(out.stdout).toBe('');
    expect(fingerprint(db)).toBe(before);
  });

  it('exits 1 with one line and creates no organization (whose key no one would ever see) in a fresh database', async () => {
    const db = join(folder('port-fresh'), 'dispersl.db');
    const out = await runCli(['serve', '--port', String(port)], cliEnv(tmp.dir, { DISPERSL_DB: db }));
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/^dispersl-mcp: the address is already in use[^\n]*\n$/);
    expect(out.stdout).toBe('');
    if (existsSync(db)) expect(query<{ n: number }>(db, 'SELECT count(*) AS n FROM organizations')[0]!.n).toBe(0);
    // Once the port is free, the first start creates the organization and shows its key.
    const ok = await runCli(['serve', '--port', '0'], cliEnv(tmp.dir, { DISPERSL_DB: db }), { timeoutMs: 30_000, stopOnStdout: /Admin key key_\w+:\n\n {2}pk_live_\w+\n/ });
    expect(ok.stdout).toMatch(/Admin key key_/);
  });
});
