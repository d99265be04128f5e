import pg from 'pg';
import type { QueryResult, QueryResultRow } from 'pg';

/** What a query runs on: the pool (each call on any free connection) or one client inside a transaction. */
export interface Queryable {
  query<R extends QueryResultRow = QueryResultRow>(text: string | { name?: string; text: string; values?: unknown[] }, values?: unknown[]): Promise<QueryResult<R>>;
}

export async function rows<R extends QueryResultRow>(q: Queryable, text: string, values: unknown[] = [], name?: string): Promise<R[]> {
  return (await q.query<R>(name === undefined ? { text, values } : { name, text, values })).rows;
}

export async function first<R extends QueryResultRow>(q: Queryable, text: string, values: unknown[] = [], name?: string): Promise<R | undefined> {
  return (await rows<R>(q, text, values, name))[0];
}

/** How many rows a write changed: a guarded write that lost its race changes none. */
export async function changed(q: Queryable, text: string, values: unknown[] = []): Promise<number> {
  return (await q.query(text, values)).rowCount ?? 0;
}

/** A value written into SQL text, for the multi-statement messages that save round trips (no parameters there). */
export function literal(value: string | number | null): string {
  if (value === null) return 'NULL';
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new Error('only whole numbers are written as literals');
    return String(value);
  }
  return pg.escapeLiteral(value);
}
