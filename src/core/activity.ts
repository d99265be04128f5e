import { z } from 'zod';
import type { Caller, Clock } from './auth.js';
import { invalidRequest, notFound } from './errors.js';
import { EVENT_TYPES, type UsageBucket } from './model.js';
import { IsoDateTime, KeyId } from './schemas.js';
import type { KeyStore } from './store.js';

/** Usage over time and the audit trail: what a key did, and who changed it. */

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** How far back usage is kept by default (DISPERSL_USAGE_DAYS), and so how far back it can be asked for. */
export const DEFAULT_USAGE_DAYS = 90;
const TOP_KEYS = 10;

export const GetUsageInput = z
  .object({
    key_id: KeyId.optional().describe('One key (key_…); without it, the whole organization with its top keys.'),
    from: IsoDateTime.optional().describe('Start of the span, ISO 8601 (default: 24 hours before `to` by hour, 30 days by day).'),
    to: IsoDateTime.optional().describe('End of the span, ISO 8601 (default: now).'),
    granularity: z.enum(['hour', 'day']).default('hour').describe('Bucket size: hour (default) or day (UTC).'),
  })
  .strict();

const Counts = z.object({
  admitted: z.number().int().describe('Requests that passed (charged to the quota).'),
  rate_limited: z.number().int().describe('Requests refused by the hourly quota, the key’s own rate limit or its concurrency limit.'),
  denied: z.number().int().describe('Requests refused after the key was identified: revoked, disabled, expired, IP or permission.'),
});

export const Usage = z.object({
  buckets: z.array(Counts.extend({ start: z.string().describe('Start of the bucket, ISO 8601 (UTC).') })).describe('Every bucket of the span, oldest first, empty ones included.'),
  totals: Counts,
  top_keys: z.array(Counts.extend({ key_id: z.string() })).optional().describe('Without key_id: the keys with the most requests in the span, most first (up to 10).'),
});
export type Usage = z.infer<typeof Usage>;

export const ListEventsInput = z
  .object({
    key_id: KeyId.optional().describe('Only events about this key.'),
    type: z.enum(EVENT_TYPES).optional().describe('Only events of this type.'),
    cursor: z.string().max(200).optional().describe('The next_cursor of a previous page, to fetch older events.'),
    limit: z.number().int().min(1).max(100).default(20).describe('How many events to return (1–100, default 20).'),
  })
  .strict();

export const Event = z.object({
  id: z.string().describe('The event id (evt_…), growing with time.'),
  type: z.enum(EVENT_TYPES),
  key_id: z.string().describe('The key the event is about.'),
  actor_key_id: z.string().nullable().describe('The key that made the change; null for an operator action (init).'),
  at: z.string(),
  details: z.record(z.string(), z.unknown()).describe('What changed (name, permissions, grace period, …); never a secret.'),
});

export const EventList = z.object({
  events: z.array(Event).describe('Newest first.'),
  next_cursor: z.string().nullable().describe('Pass as cursor to get older events; null on the last page.'),
});
export type EventList = z.infer<typeof EventList>;

const zero = () => ({ admitted: 0, rate_limited: 0, denied: 0 });

function add(into: { admitted: number; rate_limited: number; denied: number }, b: Pick<UsageBucket, 'admitted' | 'rate_limited' | 'denied'>): void {
  into.admitted += b.admitted;
  into.rate_limited += b.rate_limited;
  into.denied += b.denied;
}

function encodeCursor(id: number): string {
  return Buffer.from(String(id)).toString('base64url');
}

function decodeCursor(cursor: string): number {
  const id = Number(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!Number.isSafeInteger(id) || id < 1) throw invalidRequest([{ path: 'cursor', message: 'is not a cursor returned by list_events' }]);
  return id;
}

export class Activity {
  constructor(
    private readonly store: KeyStore,
    private readonly clock: Clock,
    private readonly usageDays: number = DEFAULT_USAGE_DAYS,
  ) {}

  async usage(caller: Caller, input: z.output<typeof GetUsageInput>): Promise<Usage> {
    const size = input.granularity === 'day' ? DAY_MS : HOUR_MS;
    const to = input.to === undefined ? this.clock() : Date.parse(input.to);
    const from = input.from === undefined ? to - (input.granularity === 'day' ? 30 * DAY_MS : DAY_MS) : Date.parse(input.from);
    if (from >= to) throw invalidRequest([{ path: 'from', message: 'must be before to' }]);
    // Buckets are whole hours (or UTC days): the span widens to the buckets it touches.
    const start = from - (from % size);
    // An explicit `to` is exclusive; the default (now) includes the bucket now falls in.
    const end = input.to !== undefined && to % size === 0 ? to : to - (to % size) + size;
    if (end - start > (this.usageDays + 1) * DAY_MS) {
      throw invalidRequest([{ path: 'from', message: `the span must be at most ${this.usageDays} days (usage is kept that long)` }]);
    }
    if (input.key_id !== undefined && !(await this.store.getKey(caller.org.id, input.key_id))) throw notFound();
    const query = { keyId: input.key_id, from: start, to: end };
    const rows = await this.store.usageBuckets(caller.org.id, query);
    const byStart = new Map<number, ReturnType<typeof zero>>();
    for (let t = start; t < end; t += size) byStart.set(t, zero());
    const totals = zero();
    for (const row of rows) {
      add(byStart.get(row.hour - (row.hour % size))!, row);
      add(totals, row);
    }
    const buckets = [...byStart].map(([t, counts]) => ({ start: new Date(t).toISOString(), ...counts }));
    if (input.key_id !== undefined) return { buckets, totals };
    const top = await this.store.topKeys(caller.org.id, { ...query, limit: TOP_KEYS });
    return { buckets, totals, top_keys: top.map(({ key_id, admitted, rate_limited, denied }) => ({ key_id, admitted, rate_limited, denied })) };
  }

  async events(caller: Caller, input: z.output<typeof ListEventsInput>): Promise<EventList> {
    const beforeId = input.cursor === undefined ? undefined : decodeCursor(input.cursor);
    if (input.key_id !== undefined && !(await this.store.getKey(caller.org.id, input.key_id))) throw notFound();
    const rows = await this.store.listEvents(caller.org.id, { keyId: input.key_id, type: input.type, beforeId, limit: input.limit + 1 });
    const page = rows.slice(0, input.limit);
    return {
      events: page.map((e) => ({ id: `evt_${e.id}`, type: e.type, key_id: e.key_id, actor_key_id: e.actor_key_id, at: new Date(e.at).toISOString(), details: e.details })),
      next_cursor: rows.length > input.limit ? encodeCursor(page[page.length - 1]!.id) : null,
    };
  }
}
