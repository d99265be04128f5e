import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeStoreContract } from './contract.js';
import { SqliteStore } from './sqlite.js';

/**
 * The contract on a database file of its own per test; each connect is another process's connection.
 * better-sqlite3 waits for a lock synchronously, so two stores of one process cannot wait for each
 * other's transactions; a process opens one store per database (src/store/open.ts), and other
 * processes wait as the contract says.
 */
describeStoreContract(
  'SqliteStore',
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dispersl-contract-'));
    const path = join(dir, 'keys.db');
    return {
      connect: async () => new SqliteStore(path),
      destroy: async () => rmSync(dir, { recursive: true, force: true }),
    };
  },
  { sameProcessStoresWait: false },
);
