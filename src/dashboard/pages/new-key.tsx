import type { Hono } from 'hono';
import type { Caller } from '../../core/auth.js';
import { PERMISSIONS, VERIFY_PERMISSION, missingGrants } from '../../core/model.js';
import type { DashboardContext, DashboardEnv } from '../guard.js';
import { Layout, Problem, Select } from '../layout.js';
import { type DashboardDeps, type FormProblem, field, formOf, problemOf, render, writable } from '../page.js';
import { runSealed, showSecretOnce } from './secret.js';

const KNOWN = [PERMISSIONS.read, PERMISSIONS.write, VERIFY_PERMISSION, PERMISSIONS.admin];
const ENVIRONMENTS = [
  ['live', 'live (pk_live_…, production)'],
  ['test', 'test (pk_test_…, development and CI)'],
] as const;
const EXPIRY_CHOICES: Array<[string, string]> = [
  ['', 'Never'],
  ['3600', 'In 1 hour'],
  ['86400', 'In 1 day'],
  ['604800', 'In 7 days'],
  ['2592000', 'In 30 days'],
  ['7776000', 'In 90 days'],
  ['31536000', 'In 1 year'],
];
const WINDOWS: Array<[string, string]> = [
  ['1000', 'second'],
  ['60000', 'minute'],
  ['3600000', 'hour'],
  ['86400000', 'day'],
];

type Form = Record<string, string | string[]>;

/** The permissions the form offers: those the signed-in key may grant (admin: any it knows of). */
function grantable(caller: Caller): string[] {
  const own = caller.key.permissions;
  return [...new Set([...KNOWN, ...own])].filter((p) => missingGrants(own, [p]).length === 0);
}

function list(text: string): string[] {
  return text.split(/[\s,]+/).filter((s) => s !== '');
}

/** The form as generate_key's input: every field the API takes, blank ones left out so their defaults apply. */
function inputOf(form: Form): Record<string, unknown> {
  const checked = form.permissions === undefined ? [] : ([] as string[]).concat(form.permissions);
  const rateMax = field(form, 'rate_max');
  const expiresIn = field(form, 'expires_in_seconds');
  const expiresOn = field(form, 'expires_at');
  return {
    name: field(form, 'name'),
    environment: field(form, 'environment') || undefined,
    permissions: [...checked, ...list(field(form, 'other_permissions'))],
    allowed_ips: list(field(form, 'allowed_ips')),
    ...(expiresIn !== '' && { expires_in_seconds: Number(expiresIn) }),
    ...(expiresOn !== '' && { expires_at: `${expiresOn}T23:59:59Z` }),
    ...(rateMax !== '' && { rate_limit: { max: Number(rateMax), window_ms: Number(field(form, 'rate_window') || '60000') } }),
  };
}

function NewKeyForm({ caller, csrf, form, problem }: { caller: Caller; csrf: string; form: Form; problem?: FormProblem | undefined }) {
  const offered = grantable(caller);
  const checked = new Set(form.permissions === undefined ? [PERMISSIONS.read] : ([] as string[]).concat(form.permissions));
  const environments = ENVIRONMENTS.filter(([env]) => caller.key.environment === 'live' || env === 'test');
  const value = (name: string, fallback = '') => (form[name] === undefined ? fallback : field(form, name));
  return (
    <>
      <h1>New key</h1>
      {problem && <Problem message={problem.message} issues={problem.issues} />}
      <form method="post" action="/dashboard/keys">
        <input type="hidden" name="csrf" value={csrf} />
        <div class="field">
          <label for="name">Name</label>
          <input id="name" name="name" type="text" required maxlength={100} value={value('name')} aria-describedby="name-hint" />
          <p class="hint" id="name-hint">
            What the key is for, e.g. “CI (GitHub Actions)”.
          </p>
        </div>
        <div class="field">
          <label for="environment">Environment</label>
          <Select id="environment" name="environment" options={environments} value={value('environment', caller.key.environment)} />
        </div>
        <fieldset>
          <legend>Permissions</legend>
          {offered.map((permission) => (
            <label class="check">
              <input type="checkbox" name="permissions" value={permission} checked={checked.has(permission)} />
              {permission}
            </label>
          ))}
          <div class="field">
            <label for="other-permissions">Other permissions</label>
            <input id="other-permissions" name="other_permissions" type="text" value={value('other_permissions')} aria-describedby="perm-hint" />
            <p class="hint" id="perm-hint">
              Separated by commas or spaces. A key can be given only permissions the key you signed in with holds.
            </p>
          </div>
        </fieldset>
        <div class="field">
          <label for="allowed-ips">Allowed IP addresses</label>
          <textarea id="allowed-ips" name="allowed_ips" rows={2} aria-describedby="ips-hint">
            {value('allowed_ips')}
          </textarea>
          <p class="hint" id="ips-hint">
            Addresses or CIDR ranges, one per line or separated by commas; empty: any address.
          </p>
        </div>
        <fieldset>
          <legend>Expiry</legend>
          <div class="field">
            <label for="expires-in">Expires</label>
            <Select id="expires-in" name="expires_in_seconds" options={EXPIRY_CHOICES} value={value('expires_in_seconds')} />
          </div>
          <div class="field">
            <label for="expires-on">Or at the end of this day (UTC)</label>
            <input id="expires-on" name="expires_at" type="date" value={value('expires_at')} />
          </div>
        </fieldset>
        <fieldset>
          <legend>Own rate limit (optional, on top of the plan’s hourly quota)</legend>
          <div class="field">
            <label for="rate-max">Requests</label>
            <input id="rate-max" name="rate_max" type="number" min={1} value={value('rate_max')} />
          </div>
          <div class="field">
            <label for="rate-window">Per</label>
            <Select id="rate-window" name="rate_window" options={WINDOWS} value={value('rate_window', '60000')} />
          </div>
        </fieldset>
        <button type="submit">Create key</button>
      </form>
    </>
  );
}

export function newKeyRoutes(app: Hono<DashboardEnv>, deps: DashboardDeps): void {
  const page = (c: DashboardContext, form: Form, problem?: FormProblem) => {
    const session = c.get('session');
    return render(
      c,
      <Layout title="New key" session={session} section="keys">
        <NewKeyForm caller={session.caller} csrf={session.csrf} form={form} problem={problem} />
      </Layout>,
      problem?.status ?? 200,
    );
  };
  const refused = (c: DashboardContext) =>
    !writable(c, deps) ? page(c, {}, { message: 'The key you signed in with cannot create keys here.', status: 403 }) : undefined;

  app.get('/keys/new', async (c) => refused(c) ?? page(c, {}));

  app.post('/keys', async (c) => {
    const form = await formOf(c);
    const no = refused(c);
    if (no) return no;
    try {
      const { made, code } = await runSealed(c, deps, 'generateKey', inputOf(form));
      return showSecretOnce(c, deps, made.key.id, code);
    } catch (err) {
      return page(c, form, problemOf(err));
    }
  });
}
