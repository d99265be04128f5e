import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { keyLimits } from '../../src/core/limits.js';
import type { Organization } from '../../src/core/model.js';

/** A fresh temp folder for one test file; `cleanup` removes it (and whatever the processes left in it). */
export function tempDir(label: string): { dir: string; db: (name?: string) => string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), `dispersl-rel-${label}-`));
  return { dir, db: (name = 'dispersl.db') => join(dir, name), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

interface KeyRow {
  id: string;
  org_id: string;
  environment: 'live' | 'test';
  revoked_at: number | null;
  created_at: number;
  updated_at: number;
  rotated_from: string | null;
  rotated_to: string | null;
  rate_limit_max: number | null;
}

interface UsageRow {
  key_id: string;
  hour_count: number;
  own_count: number;
}

/** Tokens have one shape; anything of that shape found in stored data is a leak. */
export const TOKEN_SHAPE = /pk_(?:live|test)_[0-9A-Za-z]{38}/g;

/**
 * Every rule the database must satisfy after any sequence of requests, crashes included.
 * Returns the violations found (empty when everything holds), so a failing test shows them all.
 */
export function invariantViolations(dbPath: string): string[] {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    const problems: string[] = [];
    const integrity = db.pragma('integrity_check', { simple: true });
    if (integrity !== 'ok') problems.push(`integrity_check: ${String(integrity)}`);
    const fk = db.pragma('foreign_key_check') as unknown[];
    if (fk.length > 0) problems.push(`foreign_key_check: ${JSON.stringify(fk.slice(0, 5))}`);

    const orgs = new Map((db.prepare('SELECT * FROM organizations').all() as Organization[]).map((o) => [o.id, o]));
    const keys = db
      .prepare('SELECT id, org_id, environment, revoked_at, created_at, updated_at, rotated_from, rotated_to, rate_limit_max FROM keys')
      .all() as KeyRow[];
    const byId = new Map(keys.map((k) => [k.id, k]));
    const events = db.prepare('SELECT org_id, key_id, action, details FROM audit_events').all() as Array<{
      org_id: string;
      key_id: string;
      action: string;
      details: string;
    }>;
    const actions = new Map<string, string[]>();
    for (const e of events) {
      const key = byId.get(e.key_id);
      if (key && key.org_id !== e.org_id) problems.push(`audit event of ${e.key_id} filed under another organization`);
      actions.set(e.key_id, [...(actions.get(e.key_id) ?? []), e.action]);
      if (TOKEN_SHAPE.test(e.details)) problems.push(`audit details of ${e.key_id} hold a token`);
      TOKEN_SHAPE.lastIndex = 0;
    }
    for (const key of keys) {
      const done = actions.get(key.id) ?? [];
      const created = done.filter((a) => a === 'created').length;
      if (created !== 1) problems.push(`${key.id} has ${created} 'created' audit events`);
      if (key.revoked_at !== null && !done.includes('revoked') && !done.includes('rotated')) problems.push(`${key.id} is revoked without a revoke or rotate event`);
      if (key.rotated_to !== null) {
        const next = byId.get(key.rotated_to);
        if (next?.rotated_from !== key.id) problems.push(`${key.id} rotated to ${key.rotated_to}, which does not point back`);
        if (!done.includes('rotated')) problems.push(`${key.id} is rotated without a rotate event`);
      }
      if (key.rotated_from !== null && byId.get(key.rotated_from)?.rotated_to !== key.id) {
        problems.push(`${key.id} claims to replace ${key.rotated_from}, which does not name it`);
      }
      if (key.updated_at < key.created_at) problems.push(`${key.id} was updated before it was created`);
    }
    const usage = db.prepare('SELECT key_id, hour_count, own_count FROM usage').all() as UsageRow[];
    for (const u of usage) {
      const key = byId.get(u.key_id);
      const org = key && orgs.get(key.org_id);
      if (!key || !org) continue; // foreign_key_check reports it
      const limit = keyLimits(org, key.environment).requests_per_hour;
      if (u.hour_count > limit) problems.push(`${u.key_id} counted ${u.hour_count} requests in an hour, above its ${limit}`);
      if (key.rate_limit_max !== null && u.own_count > key.rate_limit_max) {
        problems.push(`${u.key_id} counted ${u.own_count} requests in its own window, above its ${key.rate_limit_max}`);
      }
    }
    return problems;
  } finally {
    db.close();
  }
}

/** The raw bytes of the database and its write-ahead log, to search for anything that must never be stored. */
export function databaseBytes(dbPath: string): string {
  return ['', '-wal', '-shm', '-journal']
    .map((suffix) => dbPath + suffix)
    .filter((p) => existsSync(p))
    .map((p) => readFileSync(p).toString('latin1'))
    .join('\n');
}

/** Everything a key's audit trail says, as text (to search it for secrets). */
export function auditText(dbPath: string): string {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    return JSON.stringify(db.prepare('SELECT * FROM audit_events').all());
  } finally {
    db.close();
  }
}

/** One read of the database through a separate connection: a query's rows. */
export function query<T>(dbPath: string, sql: string, ...params: unknown[]): T[] {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}
