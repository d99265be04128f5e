import type { Hono } from 'hono';
import type { Child } from 'hono/jsx';
import type { EventList } from '../../core/activity.js';
import { DEFAULT_GRACE_SECONDS, type KeyView } from '../../core/schemas.js';
import { allowedActions } from '../../core/service.js';
import { formatSeconds, formatTime } from '../format.js';
import type { Session } from '../../core/sessions.js';
import { type DashboardContext, type DashboardEnv, signInAs } from '../guard.js';
import { Layout, Problem, Select } from '../layout.js';
import { type DashboardDeps, type FormProblem, field, formOf, problemOf, render, run, writable } from '../page.js';
import { EventsTable, type KeyLabels, keyLabels } from './events.js';
import { StateBadge } from './keys.js';
import { runSealed, showSecretOnce } from './secret.js';
import { UsageCharts, type UsageSpans, usageSpans } from './usage.js';

const GRACE_CHOICES = [0, 3_600, 86_400, 604_800].map((s) => [String(s), s === 0 ? 'no time: revoke it now' : formatSeconds(s)] as const);

/** What an action that succeeded says on the page it returns to. */
const DONE = new Map([
  ['renamed', 'The key was renamed.'],
  ['enabled', 'The key was enabled: requests with it work again.'],
  ['disabled', 'The key was disabled: every request with it fails until it is enabled again.'],
  ['revoked', 'The key was revoked: every request with it fails from now on.'],
]);

interface KeyPageData {
  key: KeyView;
  usage: UsageSpans;
  events: EventList;
  labels: KeyLabels;
  now: number;
  /** What the signed-in key may do to this one here (nothing on a read-only server). */
  allowed: ReturnType<typeof allowedActions> | undefined;
}

function Details({ view: key, now }: { view: KeyView; now: number }) {
  const rows: Array<[string, unknown]> = [
    ['Id', <span class="mono">{key.id}</span>],
    ['State', <StateBadge view={key} now={now} />],
    ['Environment', key.environment],
    ['Key', <span class="mono">{key.start}…</span>],
    ['Permissions', key.permissions.join(', ')],
    ['Allowed IPs', key.allowed_ips.length === 0 ? 'any' : key.allowed_ips.join(', ')],
    ['Own rate limit', key.rate_limit === null ? 'none (the plan’s hourly quota applies)' : `${key.rate_limit.max} requests per ${formatSeconds(key.rate_limit.window_ms / 1000)}`],
    ['Expires', formatTime(key.expires_at)],
    ['Last used', formatTime(key.last_used_at)],
    ['Created', formatTime(key.created_at)],
    ['Updated', formatTime(key.updated_at)],
  ];
  if (key.revoked_at !== null) rows.push(['Revoked', formatTime(key.revoked_at)]);
  if (key.rotated_from !== null) rows.push(['Rotated from', <a href={`/dashboard/keys/${key.rotated_from}`}>{key.rotated_from}</a>]);
  if (key.rotated_to !== null) rows.push(['Rotated to', <a href={`/dashboard/keys/${key.rotated_to}`}>{key.rotated_to}</a>]);
  return (
    <dl class="details">
      {rows.map(([term, value]) => (
        <>
          <dt>{term}</dt>
          <dd>{value}</dd>
        </>
      ))}
    </dl>
  );
}

function Actions({ view: key, csrf, allowed }: { view: KeyView; csrf: string; allowed: ReturnType<typeof allowedActions> }) {
  const Card = ({ verb, title, children }: { verb: string; title: string; children?: Child }) => (
    <form class="card" method="post" action={`/dashboard/keys/${key.id}/${verb}`}>
      <h3>{title}</h3>
      <input type="hidden" name="csrf" value={csrf} />
      {children}
    </form>
  );
  return (
    <div class="actions">
      {allowed.update && (
        <Card verb="update" title="Rename">
          <div class="field">
            <label for="rename">New name</label>
            <input id="rename" name="name" type="text" value={key.name} required maxlength={100} />
          </div>
          <button type="submit">Rename</button>
        </Card>
      )}
      {(key.enabled ? allowed.disable : allowed.update) && (
        <Card verb="update" title={key.enabled ? 'Disable' : 'Enable'}>
          <input type="hidden" name="enabled" value={key.enabled ? 'false' : 'true'} />
          <p class="hint">{key.enabled ? 'Every request with it fails (DISABLED_API_KEY) until you enable it again.' : 'Requests with it work again.'}</p>
          <button type="submit" class="secondary">
            {key.enabled ? 'Disable key' : 'Enable key'}
          </button>
        </Card>
      )}
      {allowed.rotate && (
        <Card verb="rotate" title="Rotate">
          <div class="field">
            <label for="grace">The old key keeps working for</label>
            <Select id="grace" name="grace_period_seconds" options={GRACE_CHOICES} value={String(DEFAULT_GRACE_SECONDS)} />
          </div>
          <p class="hint">A new key with the same settings replaces it; its secret is shown once.</p>
          <button type="submit">Rotate key</button>
        </Card>
      )}
      {allowed.revoke && (
        <Card verb="revoke" title="Revoke">
          <div class="field">
            <label for="confirm-name">Type the key’s name to confirm</label>
            <input id="confirm-name" name="confirm_name" type="text" autocomplete="off" required data-confirm-name={key.name} aria-describedby="revoke-hint" />
            <p class="hint" id="revoke-hint">
              Every request with <strong>{key.name}</strong> fails from then on. This cannot be undone.
            </p>
          </div>
          <button type="submit" class="danger">
            Revoke key
          </button>
        </Card>
      )}
    </div>
  );
}

async function load(c: DashboardContext, deps: DashboardDeps, id: string): Promise<KeyPageData> {
  const key = await run(c, deps, 'getKey', { id });
  const [usage, events] = await Promise.all([usageSpans(c, deps, id), run(c, deps, 'listEvents', { key_id: id, limit: 20 })]);
  const labels = await keyLabels(c, deps, events.events.map((e) => e.actor_key_id));
  labels.set(key.id, key);
  const now = deps.clock();
  return { key, usage, events, labels, now, allowed: writable(c, deps) ? allowedActions(c.get('session').caller, key, now) : undefined };
}

function KeyPage({ data, session, notice, problem }: { data: KeyPageData; session: Session; notice?: string | undefined; problem?: FormProblem | undefined }) {
  const { key, usage, events, labels, now, allowed } = data;
  return (
    <Layout title={key.name} session={session} section="keys">
      <p>
        <a href="/dashboard">← Keys</a>
      </p>
      <h1>{key.name}</h1>
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      {problem && <Problem message={problem.message} issues={problem.issues} />}
      <Details view={key} now={now} />
      {allowed && (allowed.update || allowed.rotate || allowed.revoke) && (
        <>
          <h2>Change this key</h2>
          <Actions view={key} csrf={session.csrf} allowed={allowed} />
        </>
      )}
      <h2>Usage</h2>
      <UsageCharts usage={usage} />
      <h2>Events</h2>
      <EventsTable events={events.events} labels={labels} />
      {events.next_cursor !== null && (
        <p class="pager">
          <a href={`/dashboard/events?key_id=${key.id}`}>All events of this key →</a>
        </p>
      )}
    </Layout>
  );
}

export function keyRoutes(app: Hono<DashboardEnv>, deps: DashboardDeps): void {
  /** The key page again, with what went wrong (or nothing, if the key cannot be read). */
  const again = async (c: DashboardContext, id: string, problem: FormProblem) => {
    try {
      return render(c, <KeyPage data={await load(c, deps, id)} session={c.get('session')} problem={problem} />, problem.status);
    } catch (err) {
      const missing = problemOf(err);
      return render(c, <Layout title="Key" session={c.get('session')}><Problem message={missing.message} /></Layout>, missing.status);
    }
  };
  /** Runs a change; on success back to the key page saying what happened, on failure the page with the reason. */
  const change = (verb: string, act: (c: DashboardContext, id: string, form: Record<string, string | string[]>) => Promise<Response>) => {
    app.post(`/keys/:id/${verb}`, async (c) => {
      const id = c.req.param('id');
      if (deps.readOnly) return again(c, id, { message: 'This server is read-only: keys cannot be changed here.', status: 403 });
      try {
        return await act(c, id, await formOf(c));
      } catch (err) {
        return again(c, id, problemOf(err));
      }
    });
  };

  app.get('/keys/:id', async (c) => {
    const id = c.req.param('id');
    try {
      const data = await load(c, deps, id);
      return render(c, <KeyPage data={data} session={c.get('session')} notice={DONE.get(c.req.query('done') ?? '')} />);
    } catch (err) {
      return again(c, id, problemOf(err));
    }
  });

  change('update', async (c, id, form) => {
    const enabled = field(form, 'enabled');
    if (enabled !== '' && enabled !== 'true' && enabled !== 'false') return again(c, id, { message: 'enabled: must be true or false', status: 400 });
    const input = enabled === '' ? { id, name: field(form, 'name') } : { id, enabled: enabled === 'true' };
    await run(c, deps, 'updateKey', input);
    return c.redirect(`/dashboard/keys/${id}?done=${'name' in input ? 'renamed' : input.enabled ? 'enabled' : 'disabled'}`, 303);
  });

  change('revoke', async (c, id, form) => {
    const key = await run(c, deps, 'getKey', { id });
    if (field(form, 'confirm_name') !== key.name) {
      return again(c, id, { message: 'The name typed does not match the key’s name: the key was not revoked.', status: 400 });
    }
    await run(c, deps, 'revokeKey', { id });
    return c.redirect(`/dashboard/keys/${id}?done=revoked`, 303);
  });

  change('rotate', async (c, id, form) => {
    const grace = field(form, 'grace_period_seconds');
    const { made: rotated, code } = await runSealed(c, deps, 'rotateKey', { id, grace_period_seconds: grace === '' ? undefined : Number(grace) });
    // The key this browser signed in with: the session moves to its successor, which may still write
    // (a rotated key may only read) and outlives the grace, so the new secret is never locked out.
    if (id === c.get('session').caller.key.id) await signInAs(c, deps, rotated.secret);
    return showSecretOnce(c, deps, rotated.key.id, code);
  });
}
