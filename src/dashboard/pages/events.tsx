import type { Hono } from 'hono';
import type { EventList } from '../../core/activity.js';
import type { KeyView } from '../../core/schemas.js';
import { EVENT_TYPES } from '../../core/model.js';
import { formatTime } from '../format.js';
import type { DashboardContext, DashboardEnv } from '../guard.js';
import { FilterForm, Layout, Pager, Problem, Select, Table } from '../layout.js';
import { type DashboardDeps, listQuery, orProblem, render, run, unlessRefused } from '../page.js';

type Event = EventList['events'][number];

/** How a page names a key: its name, and the start of its token to tell apart keys of one name (a rotated key and its successor). */
export type KeyLabels = Map<string, Pick<KeyView, 'name' | 'start'>>;

/** The labels of the keys a page mentions (a key this one may not read keeps its id). */
export async function keyLabels(c: DashboardContext, deps: DashboardDeps, ids: Iterable<string | null>): Promise<KeyLabels> {
  const labels: KeyLabels = new Map();
  await Promise.all(
    [...new Set(ids)].filter((id): id is string => id !== null).map(async (id) => {
      const key = await unlessRefused(run(c, deps, 'getKey', { id }));
      if (key !== undefined) labels.set(id, key);
    }),
  );
  return labels;
}

export function KeyLink({ id, labels }: { id: string | null; labels: KeyLabels }) {
  if (id === null) return <span class="muted">operator</span>;
  const label = labels.get(id);
  return (
    <>
      <a href={`/dashboard/keys/${id}`}>{label?.name ?? id}</a>
      {label && <span class="muted mono"> {label.start}…</span>}
    </>
  );
}

function describe(details: Record<string, unknown>): string {
  return Object.entries(details)
    .map(([name, value]) => `${name}: ${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(', ');
}

export function EventsTable({ events, labels }: { events: Event[]; labels: KeyLabels }) {
  if (events.length === 0) return <p class="muted">No events.</p>;
  return (
    <Table head={['When', 'Event', 'Key', 'By', 'Details']}>
      {events.map((event) => (
        <tr data-event-type={event.type}>
          <td>
            <time datetime={event.at}>{formatTime(event.at)}</time>
          </td>
          <td>{event.type}</td>
          <td>
            <KeyLink id={event.key_id} labels={labels} />
          </td>
          <td data-actor={event.actor_key_id ?? ''}>
            <KeyLink id={event.actor_key_id} labels={labels} />
          </td>
          <td class="mono">{describe(event.details)}</td>
        </tr>
      ))}
    </Table>
  );
}

export function eventsRoutes(app: Hono<DashboardEnv>, deps: DashboardDeps): void {
  app.get('/events', async (c) => {
    const session = c.get('session');
    const { filters, query, input } = listQuery(c, ['key_id', 'type']);
    const { value: list, problem } = await orProblem(run(c, deps, 'listEvents', input), { events: [], next_cursor: null });
    const labels = await keyLabels(c, deps, list.events.flatMap((e) => [e.key_id, e.actor_key_id]));
    return render(
      c,
      <Layout title="Events" session={session} section="events">
        <h1>Events</h1>
        <FilterForm action="/dashboard/events" label="Filter events">
          <div>
            <label for="f-key">Key id</label>
            <input id="f-key" name="key_id" type="text" value={filters.key_id} placeholder="key_…" />
          </div>
          <div>
            <label for="f-type">Type</label>
            <Select id="f-type" name="type" options={[['', 'Every type'], ...EVENT_TYPES.map((type) => [type, type] as const)]} value={filters.type} />
          </div>
        </FilterForm>
        {problem && <Problem message={problem.message} issues={problem.issues} />}
        <EventsTable events={list.events} labels={labels} />
        <Pager path="/dashboard/events" query={query} cursor={list.next_cursor} label="Older events →" />
      </Layout>,
      problem?.status ?? 200,
    );
  });
}
