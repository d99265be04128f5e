import type { Hono } from 'hono';
import { type KeyList, type KeyView, stateOf } from '../../core/schemas.js';
import { formatTime } from '../format.js';
import type { DashboardEnv } from '../guard.js';
import { FilterForm, Layout, Pager, Problem, Select, Table } from '../layout.js';
import { type DashboardDeps, type FormProblem, listQuery, orProblem, render, run, writable } from '../page.js';

const ENVIRONMENTS = [
  ['', 'Live and test'],
  ['live', 'Live'],
  ['test', 'Test'],
] as const;

const STATES = [
  ['', 'All but revoked'],
  ['active', 'Active'],
  ['disabled', 'Disabled'],
  ['expired', 'Expired'],
  ['revoked', 'Revoked'],
] as const;

const FILTERS = ['name', 'environment', 'state', 'unused_since'] as const;
type Filters = Record<(typeof FILTERS)[number], string>;

export function StateBadge({ view: key, now }: { view: KeyView; now: number }) {
  const state = stateOf(key, now);
  return (
    <>
      <span class={`badge ${state}`}>{state}</span>
      {key.rotated_to !== null && state !== 'revoked' && <span class="badge rotated">rotated</span>}
    </>
  );
}

function KeyRows({ keys, now }: { keys: KeyView[]; now: number }) {
  return (
    <Table head={['Name', 'Environment', 'Key', 'State', 'Permissions', 'Last used', 'Expires', 'Created']}>
      {keys.map((key) => (
        <tr data-key-id={key.id}>
          <td>
            <a href={`/dashboard/keys/${key.id}`}>{key.name}</a>
          </td>
          <td>
            <span class={`badge ${key.environment}`}>{key.environment}</span>
          </td>
          <td class="mono">{key.start}…</td>
          <td>
            <StateBadge view={key} now={now} />
          </td>
          <td>{key.permissions.join(', ')}</td>
          <td>{formatTime(key.last_used_at)}</td>
          <td>{formatTime(key.expires_at)}</td>
          <td>{formatTime(key.created_at)}</td>
        </tr>
      ))}
    </Table>
  );
}

function KeysPage({ list, filters, problem, mayCreate, now, query }: { list: KeyList; filters: Filters; problem?: FormProblem | undefined; mayCreate: boolean; now: number; query: URLSearchParams }) {
  return (
    <>
      <div class="toolbar">
        <h1>Keys</h1>
        {mayCreate && (
          <a class="button" href="/dashboard/keys/new">
            New key
          </a>
        )}
      </div>
      <FilterForm action="/dashboard" label="Filter keys">
        <div>
          <label for="f-name">Name contains</label>
          <input id="f-name" name="name" type="text" value={filters.name} />
        </div>
        <div>
          <label for="f-environment">Environment</label>
          <Select id="f-environment" name="environment" options={ENVIRONMENTS} value={filters.environment} />
        </div>
        <div>
          <label for="f-state">State</label>
          <Select id="f-state" name="state" options={STATES} value={filters.state} />
        </div>
        <div>
          <label for="f-unused">Unused since</label>
          <input id="f-unused" name="unused_since" type="date" value={filters.unused_since} />
        </div>
      </FilterForm>
      {problem && <Problem message={problem.message} issues={problem.issues} />}
      {list.keys.length === 0 ? <p class="muted">No keys match.</p> : <KeyRows keys={list.keys} now={now} />}
      <Pager path="/dashboard" query={query} cursor={list.next_cursor} label="Next page →" />
    </>
  );
}

export function keysRoutes(app: Hono<DashboardEnv>, deps: DashboardDeps): void {
  app.get('/', async (c) => {
    const session = c.get('session');
    const { filters, query, input } = listQuery(c, FILTERS);
    const { value: list, problem } = await orProblem(run(c, deps, 'listKeys', input), { keys: [], next_cursor: null });
    return render(
      c,
      <Layout title="Keys" session={session} section="keys">
        <KeysPage list={list} filters={filters} problem={problem} mayCreate={writable(c, deps)} now={deps.clock()} query={query} />
      </Layout>,
      problem?.status ?? 200,
    );
  });
}
