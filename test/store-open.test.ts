import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';

const STORE = fileURLToPath(new URL('../dist/store/sqlite.js', import.meta.url));

/** Opens the store in a new process at the epoch-ms instant `at`; resolves with its exit code and stderr. */
function openAt(db: string, at: number): Promise<{ code: number | null; stderr: string }> {
  const script = `const m = await import(${JSON.stringify(STORE)}); while (Date.now() < ${at}); new m.SqliteStore(${JSON.stringify(db)}).close();`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stderr })));
}

describe('opening one new database from several processes at the same instant', () => {
  it('succeeds in every process and migrates the file once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dispersl-open-'));
    try {
      // Switching a fresh file to WAL can deadlock two openers, and SQLite then answers SQLITE_BUSY
      // at once to one of them; several rounds of six make that race likely without the retry.
      for (let round = 0; round < 5; round++) {
        const db = join(dir, `round-${round}.db`);
        const at = Date.now() + 600;
        const results = await Promise.all(Array.from({ length: 6 }, () => openAt(db, at)));
        for (const r of results) expect(r, r.stderr).toMatchObject({ code: 0 });
        const check = new Database(db, { readonly: true });
        expect(check.pragma('journal_mode', { simple: true })).toBe('wal');
        expect(check.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'keys'").pluck().get()).toBe(1);
        check.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
