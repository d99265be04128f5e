import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { databaseText } from '../src/testing/fixtures.js';
import { type AppWorld, appWorld, makeKey } from './helpers/http-app.js';

/**
 * The dashboard's rules, in process (app.request, a real SQLite database, a clock the test moves):
 * sessions, cookies, anti-forgery, origin, headers, escaping. What a person does with it is in
 * dashboard.browser.test.ts, in a real Chromium.
 */

const ORIGIN = 'http://localhost';

interface Page {
  status: number;
  location: string | null;
  cookies: string[];
  text: string;
  headers: Headers;
}

async function visit(w: AppWorld, method: string, path: string, { cookie, form, origin = ORIGIN }: { cookie?: string | undefined; form?: Record<string, string>; origin?: string | null } = {}): Promise<Page> {
  const headers: Record<string, string> = {};
  if (cookie !== undefined) headers.cookie = cookie;
  if (origin !== null && method === 'POST') headers.origin = origin;
  let body: string | undefined;
  if (form) {
    body = new URLSearchParams(form).toString();
    headers['content-type'] = 'application/x-www-form-urlencoded';
  }
  const response = await w.app.request(path, { method, headers, body });
  return { status: response.status, location: response.headers.get('location'), cookies: response.headers.getSetCookie(), text: await response.text(), headers: response.headers };
}

/** Signs in with a key: the session cookie (name=value) and the anti-forgery token of its pages. */
async function signIn(w: AppWorld, secret: string, origin = ORIGIN): Promise<{ cookie: string; csrf: string }> {
  const answer = await visit(w, 'POST', '/dashboard/sign-in', { form: { key: secret }, origin });
  expect(answer.status).toBe(303);
  const cookie = answer.cookies.find((c) => c.startsWith('dispersl_session='))!.split(';')[0]!;
  const page = await visit(w, 'GET', '/dashboard', { cookie });
  const csrf = /name="csrf" value="([^"]+)"/.exec(page.text)![1]!;
  return { cookie, csrf };
}

describe('dashboard sessions', () => {
  it('redirects / to the dashboard and an anonymous visit to sign-in', async () => {
    const w = await appWorld();
    expect(await visit(w, 'GET', '/')).toMatchObject({ status: 302, location: '/dashboard' });
    expect(await visit(w, 'GET', '/dashboard/')).toMatchObject({ status: 301, location: '/dashboard' });
    expect(await visit(w, 'GET', '/dashboard')).toMatchObject({ status: 303, location: '/dashboard/sign-in' });
    expect(await visit(w, 'GET', '/dashboard/keys/key_x')).toMatchObject({ status: 303, location: '/dashboard/sign-in' });
  });

  it('sets an HttpOnly, SameSite=Strict cookie for /dashboard only, and keeps only a hash of it', async () => {
    const w = await appWorld();
    const answer = await visit(w, 'POST', '/dashboard/sign-in', { form: { key: w.tenant.adminSecret } });
    const cookie = answer.cookies.find((c) => c.startsWith('dispersl_session='))!;
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; SameSite=Strict/);
    expect(cookie).toMatch(/; Path=\/dashboard/);
    // A browser-session cookie: the server, not the browser, ends a session idle for 12 hours.
    expect(cookie).not.toMatch(/Max-Age|Expires/i);
    expect(cookie).not.toMatch(/Secure/);
    const token = cookie.split(';')[0]!.split('=')[1]!;
    expect(w.count('sessions')).toBe(1);
    expect(databaseText(w.store)).not.toContain(token);
  });

  it('marks the cookie Secure behind an https public URL, and takes forms from that origin only', async () => {
    const w = await appWorld({ publicUrl: 'https://keys.example.com' });
    expect((await visit(w, 'POST', '/dashboard/sign-in', { form: { key: w.tenant.adminSecret } })).status).toBe(403);
    const answer = await visit(w, 'POST', '/dashboard/sign-in', { form: { key: w.tenant.adminSecret }, origin: 'https://keys.example.com' });
    expect(answer.status).toBe(303);
    expect(answer.cookies.find((c) => c.startsWith('dispersl_session='))).toMatch(/; Secure/);
  });

  it('refuses a sign-in from another origin or without one', async () => {
    const w = await appWorld();
    for (const origin of ['https://evil.example', 'null', null]) {
      const answer = await visit(w, 'POST', '/dashboard/sign-in', { form: { key: w.tenant.adminSecret }, origin });
      expect(answer.status).toBe(403);
      expect(answer.cookies).toEqual([]);
    }
    expect(w.count('sessions')).toBe(0);
  });

  it('refuses a key that may not read keys, and an unknown key, with the reason', async () => {
    const w = await appWorld();
    const verifier = await makeKey(w, { permissions: ['keys:verify'] });
    const refused = await visit(w, 'POST', '/dashboard/sign-in', { form: { key: verifier.secret } });
    expect(refused.status).toBe(403);
    expect(refused.text).toContain('keys:read');
    const unknown = await visit(w, 'POST', '/dashboard/sign-in', { form: { key: 'pk_live_0000000000000000000000000000000000' } });
    expect(unknown.status).toBe(400);
    expect(unknown.text).toContain('Failed to verify');
    expect(unknown.text).not.toContain('pk_live_0000000000000000000000000000000000');
    expect(w.count('sessions')).toBe(0);
  });

  it('limits failed sign-ins per address', async () => {
    const w = await appWorld();
    for (let i = 0; i < 10; i++) expect((await visit(w, 'POST', '/dashboard/sign-in', { form: { key: 'nope' } })).status).toBe(400);
    const limited = await visit(w, 'POST', '/dashboard/sign-in', { form: { key: w.tenant.adminSecret } });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('900');
    w.clock.advance(15 * 60_000);
    expect((await visit(w, 'POST', '/dashboard/sign-in', { form: { key: w.tenant.adminSecret } })).status).toBe(303);
  });

  it('records each sign-in in the audit trail, by the key that signed in', async () => {
    const w = await appWorld();
    await signIn(w, w.tenant.adminSecret);
    const events = await w.ask('GET', '/v1/events?type=session.created', { key: w.tenant.adminSecret });
    expect((events.json as { events: unknown[] }).events).toEqual([expect.objectContaining({ type: 'session.created', key_id: w.tenant.adminId, actor_key_id: w.tenant.adminId })]);
  });

  it('ends a session idle for 12 hours, and keeps one in use', async () => {
    const w = await appWorld();
    const { cookie } = await signIn(w, w.tenant.adminSecret);
    w.clock.advance(11 * 3_600_000);
    expect((await visit(w, 'GET', '/dashboard', { cookie })).status).toBe(200);
    w.clock.advance(11 * 3_600_000);
    expect((await visit(w, 'GET', '/dashboard', { cookie })).status).toBe(200);
    w.clock.advance(12 * 3_600_000 + 1);
    expect(await visit(w, 'GET', '/dashboard', { cookie })).toMatchObject({ status: 303, location: '/dashboard/sign-in' });
  });

  it('ends the session of a key disabled or revoked elsewhere, for good', async () => {
    const w = await appWorld();
    const operator = await makeKey(w, { permissions: ['keys:read'] });
    const { cookie } = await signIn(w, operator.secret);
    await w.ask('PATCH', `/v1/keys/${operator.id}`, { key: w.tenant.adminSecret, body: { enabled: false } });
    expect(await visit(w, 'GET', '/dashboard', { cookie })).toMatchObject({ status: 303, location: '/dashboard/sign-in?ended=DISABLED_API_KEY' });
    await w.ask('PATCH', `/v1/keys/${operator.id}`, { key: w.tenant.adminSecret, body: { enabled: true } });
    expect((await visit(w, 'GET', '/dashboard', { cookie })).location).toBe('/dashboard/sign-in');
    expect(w.count('sessions')).toBe(0);
  });

  it('ends, saying why, the session of a key revoked, or rotated without grace', async () => {
    const w = await appWorld();
    const revoked = await makeKey(w, { permissions: ['keys:read'] });
    const rotated = await makeKey(w, { permissions: ['keys:read'] });
    const first = await signIn(w, revoked.secret);
    const second = await signIn(w, rotated.secret);
    await w.ask('DELETE', `/v1/keys/${revoked.id}`, { key: w.tenant.adminSecret });
    await w.ask('POST', `/v1/keys/${rotated.id}/rotate`, { key: w.tenant.adminSecret, body: { grace_period_seconds: 0 } });
    for (const { cookie } of [first, second]) {
      expect((await visit(w, 'GET', '/dashboard', { cookie })).location).toBe('/dashboard/sign-in?ended=REVOKED_API_KEY');
      expect((await visit(w, 'GET', '/dashboard', { cookie })).location).toBe('/dashboard/sign-in');
    }
    expect(w.count('sessions')).toBe(0);
  });

  it('answers only on loopback names when bound to loopback, and on the public URL behind a proxy', async () => {
    const w = await appWorld({ publicUrl: 'https://keys.example.com' });
    const page = (host: string) => w.app.request('/dashboard/sign-in', { headers: { host } });
    expect((await page('127.0.0.1:8787')).status).toBe(200);
    expect((await page('keys.example.com')).status).toBe(200);
    expect((await page('rebound.attacker.example:8787')).status).toBe(403);
    const signedIn = await w.app.request('/dashboard/sign-in', {
      method: 'POST',
      headers: { host: 'keys.example.com', origin: 'https://keys.example.com', 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ key: w.tenant.adminSecret }).toString(),
    });
    expect(signedIn.status).toBe(303);
  });

  it('ends the session at sign-out, which needs the anti-forgery token', async () => {
    const w = await appWorld();
    const { cookie, csrf } = await signIn(w, w.tenant.adminSecret);
    expect((await visit(w, 'POST', '/dashboard/sign-out', { cookie, form: {} })).status).toBe(403);
    const out = await visit(w, 'POST', '/dashboard/sign-out', { cookie, form: { csrf } });
    expect(out).toMatchObject({ status: 303, location: '/dashboard/sign-in?signed_out' });
    expect(out.cookies.some((c) => c.startsWith('dispersl_session=;'))).toBe(true);
    expect(w.count('sessions')).toBe(0);
    expect((await visit(w, 'GET', '/dashboard', { cookie })).status).toBe(303);
  });

  it('replaces the session a browser had when it signs in again', async () => {
    const w = await appWorld();
    const first = await signIn(w, w.tenant.adminSecret);
    const again = await visit(w, 'POST', '/dashboard/sign-in', { cookie: first.cookie, form: { key: w.tenant.adminSecret } });
    expect(again.status).toBe(303);
    expect(w.count('sessions')).toBe(1);
    expect((await visit(w, 'GET', '/dashboard', { cookie: first.cookie })).status).toBe(303);
  });

  it('keeps the session a browser had when a sign-in fails', async () => {
    const w = await appWorld();
    const { cookie } = await signIn(w, w.tenant.adminSecret);
    expect((await visit(w, 'POST', '/dashboard/sign-in', { cookie, form: { key: 'pk_live_wrong' } })).status).toBe(400);
    expect((await visit(w, 'GET', '/dashboard', { cookie })).status).toBe(200);
  });

  it('is never a credential for /v1, /mcp or /ot', async () => {
    const w = await appWorld();
    const { cookie } = await signIn(w, w.tenant.adminSecret);
    const minted = await w.ask('GET', '/v1/keys/new', { headers: { cookie } });
    expect(minted.status).toBe(401);
    const mcp = await w.rpc('/mcp', undefined, 'tools/call', { name: 'list_keys', arguments: {} }, { cookie });
    expect(mcp.status).toBe(401);
  });
});

describe('dashboard writes', () => {
  it('needs the anti-forgery token and this origin for every write', async () => {
    const w = await appWorld();
    const target = await makeKey(w, { name: 'target', permissions: ['keys:read'] });
    const { cookie, csrf } = await signIn(w, w.tenant.adminSecret);
    const disable = (form: Record<string, string>, origin?: string) => visit(w, 'POST', `/dashboard/keys/${target.id}/update`, { cookie, form, origin });
    expect((await disable({ enabled: 'false' })).status).toBe(403);
    expect((await disable({ enabled: 'false', csrf: 'x'.repeat(csrf.length) })).status).toBe(403);
    expect((await disable({ enabled: 'false', csrf: 'é' })).status).toBe(403);
    expect((await disable({ enabled: 'false', csrf }, 'https://evil.example')).status).toBe(403);
    expect((await w.ask('GET', '/v1/me', { key: target.secret })).status).toBe(200);
    expect(await disable({ enabled: 'false', csrf })).toMatchObject({ status: 303, location: `/dashboard/keys/${target.id}?done=disabled` });
    expect((await w.ask('GET', '/v1/me', { key: target.secret })).status).toBe(401);
  });

  it('shows a new key’s secret once, never in a URL or a log, and makes no second key on a reload', async () => {
    const w = await appWorld();
    const { cookie, csrf } = await signIn(w, w.tenant.adminSecret);
    const created = await visit(w, 'POST', '/dashboard/keys', { cookie, form: { csrf, name: 'from the dashboard', environment: 'test', permissions: 'keys:read' } });
    expect(created.status).toBe(303);
    const parked = created.cookies.find((c) => c.startsWith('dispersl_new_secret='))!;
    expect(parked).toMatch(/; HttpOnly/);
    const both = `${cookie}; ${parked.split(';')[0]}`;
    const shown = await visit(w, 'GET', created.location!, { cookie: both });
    const secret = /<code id="secret">(pk_test_[0-9A-Za-z]+)<\/code>/.exec(shown.text)![1]!;
    expect(shown.headers.get('cache-control')).toBe('no-store');
    expect(created.location).not.toContain(secret);
    expect(JSON.stringify(w.logs)).not.toContain(secret);
    expect(databaseText(w.store)).not.toContain(secret);
    // The same page again (a reload, the back button) shows nothing.
    const again = await visit(w, 'GET', created.location!, { cookie: both });
    expect(again.status).toBe(303);
    expect(again.text).not.toContain(secret);
    expect((await w.ask('GET', '/v1/me', { key: secret })).status).toBe(200);
    expect(w.count('keys')).toBe(2);
  });

  it('moves the session to the successor when the signed-in key rotates itself, even with no grace', async () => {
    const w = await appWorld();
    for (const grace of ['0', '3600']) {
      const own = await makeKey(w, { name: `my laptop ${grace}`, permissions: ['keys:read', 'keys:write'] });
      const { cookie, csrf } = await signIn(w, own.secret);
      const rotated = await visit(w, 'POST', `/dashboard/keys/${own.id}/rotate`, { cookie, form: { csrf, grace_period_seconds: grace } });
      expect(rotated.status).toBe(303);
      const next = rotated.cookies.find((c) => c.startsWith('dispersl_session='))!.split(';')[0]!;
      const parked = rotated.cookies.find((c) => c.startsWith('dispersl_new_secret='))!.split(';')[0]!;
      const shown = await visit(w, 'GET', rotated.location!, { cookie: `${next}; ${parked}` });
      expect(shown.status).toBe(200);
      const secret = /<code id="secret">([^<]+)<\/code>/.exec(shown.text)![1]!;
      expect((await w.ask('GET', '/v1/me', { key: secret })).status).toBe(200);
      // The new session may still write; the old one is gone.
      expect((await visit(w, 'GET', '/dashboard', { cookie: next })).text).toContain('New key');
      expect((await visit(w, 'GET', '/dashboard', { cookie })).status).toBe(303);
    }
  });

  it('takes nothing from a waiting secret for a page that names no key of this organization', async () => {
    const w = await appWorld();
    const { cookie, csrf } = await signIn(w, w.tenant.adminSecret);
    const created = await visit(w, 'POST', '/dashboard/keys', { cookie, form: { csrf, name: 'waiting', permissions: 'keys:read' } });
    const both = `${cookie}; ${created.cookies.find((c) => c.startsWith('dispersl_new_secret='))!.split(';')[0]}`;
    for (const path of ['/dashboard/keys/not-a-key/secret', '/dashboard/keys/key_doesnotexist/secret', '/dashboard/keys/%0d%0aLocation:x/secret']) {
      expect(await visit(w, 'GET', path, { cookie: both })).toMatchObject({ status: 303, location: '/dashboard' });
    }
    expect((await visit(w, 'GET', created.location!, { cookie: both })).text).toMatch(/<code id="secret">pk_/);
  });

  it('forgets a waiting secret at sign-out', async () => {
    const w = await appWorld();
    const { cookie, csrf } = await signIn(w, w.tenant.adminSecret);
    await visit(w, 'POST', '/dashboard/keys', { cookie, form: { csrf, name: 'unseen', permissions: 'keys:read' } });
    const out = await visit(w, 'POST', '/dashboard/sign-out', { cookie, form: { csrf } });
    expect(out.cookies.some((c) => c.startsWith('dispersl_new_secret=;'))).toBe(true);
  });

  it('refuses an enabled value other than true or false, changing nothing', async () => {
    const w = await appWorld();
    const target = await makeKey(w, { name: 'target', permissions: ['keys:read'] });
    const { cookie, csrf } = await signIn(w, w.tenant.adminSecret);
    const answer = await visit(w, 'POST', `/dashboard/keys/${target.id}/update`, { cookie, form: { csrf, enabled: 'yes' } });
    expect(answer.status).toBe(400);
    expect(answer.text).toContain('enabled: must be true or false');
    expect((await w.ask('GET', '/v1/me', { key: target.secret })).status).toBe(200);
  });

  it('charts only the days usage is kept, when fewer than 90', async () => {
    const w = await appWorld({ usageDays: 30 });
    const { cookie } = await signIn(w, w.tenant.adminSecret);
    for (const path of ['/dashboard/usage', `/dashboard/keys/${w.tenant.adminId}`]) {
      const page = await visit(w, 'GET', path, { cookie });
      expect(page.status).toBe(200);
      expect(page.text).toContain('Last 30 days, by day');
    }
  });

  it('keeps the form and names each field that is wrong', async () => {
    const w = await appWorld();
    const { cookie, csrf } = await signIn(w, w.tenant.adminSecret);
    const answer = await visit(w, 'POST', '/dashboard/keys', { cookie, form: { csrf, name: 'bad ips', allowed_ips: '10.0.0.0/99', permissions: 'keys:read' } });
    expect(answer.status).toBe(400);
    expect(answer.text).toContain('allowed_ips.0: must be an IPv4/IPv6 address or CIDR range');
    expect(answer.text).toContain('value="bad ips"');
    expect(w.count('keys')).toBe(1);
  });

  it('escapes what users typed: a key name is text, never markup', async () => {
    const w = await appWorld();
    const { id } = await makeKey(w, { name: '<img src=x onerror=alert(1)>' });
    const { cookie } = await signIn(w, w.tenant.adminSecret);
    for (const path of ['/dashboard', `/dashboard/keys/${id}`, '/dashboard/events']) {
      const page = await visit(w, 'GET', path, { cookie });
      expect(page.text).not.toContain('<img src=x');
      expect(page.text).toContain('&lt;img src=x onerror=alert(1)&gt;');
    }
  });

  it('shows only the notices it knows, whatever the query string says', async () => {
    const w = await appWorld();
    const { cookie } = await signIn(w, w.tenant.adminSecret);
    for (const path of [`/dashboard/keys/${w.tenant.adminId}?done=constructor`, '/dashboard/sign-in?ended=__proto__', '/dashboard/sign-in?ended=<b>x</b>']) {
      const page = await visit(w, 'GET', path, { cookie });
      expect(page.status).toBe(200);
      expect(page.text).not.toMatch(/function|\[object|<b>x/);
    }
  });

  it('charges no page view to the quota', async () => {
    const w = await appWorld();
    const { cookie } = await signIn(w, w.tenant.adminSecret);
    const before = (await w.callerOf(w.tenant.adminSecret)).hourly.remaining;
    for (const path of ['/dashboard', '/dashboard/usage', '/dashboard/events', `/dashboard/keys/${w.tenant.adminId}`]) expect((await visit(w, 'GET', path, { cookie })).status).toBe(200);
    expect((await w.callerOf(w.tenant.adminSecret)).hourly.remaining).toBe(before);
  });

  it('offers and takes no write on a read-only server', async () => {
    const w = await appWorld({ readOnly: true });
    const target = await makeKey(w, { name: 'target', permissions: ['keys:read'] });
    const { cookie, csrf } = await signIn(w, w.tenant.adminSecret);
    const page = await visit(w, 'GET', `/dashboard/keys/${target.id}`, { cookie });
    expect(page.text).not.toContain('Revoke key');
    expect((await visit(w, 'GET', '/dashboard', { cookie })).text).not.toContain('New key');
    expect((await visit(w, 'POST', `/dashboard/keys/${target.id}/revoke`, { cookie, form: { csrf, confirm_name: 'target' } })).status).toBe(403);
    expect((await visit(w, 'POST', '/dashboard/keys', { cookie, form: { csrf, name: 'x', permissions: 'keys:read' } })).status).toBe(403);
    expect((await w.ask('GET', '/v1/me', { key: target.secret })).status).toBe(200);
  });

  it('sends the strict headers on every page and its assets from its own origin only', async () => {
    const w = await appWorld();
    const { cookie } = await signIn(w, w.tenant.adminSecret);
    const page = await visit(w, 'GET', '/dashboard', { cookie });
    expect(page.headers.get('content-security-policy')).toBe(
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    const assets = [...page.text.matchAll(/(?:href|src)="(\/dashboard\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets).toHaveLength(3);
    for (const asset of assets) {
      const answer = await visit(w, 'GET', asset);
      expect(answer.status).toBe(200);
      expect(answer.headers.get('cache-control')).toContain('immutable');
    }
    expect(page.text).not.toMatch(/https?:\/\/(?!localhost)/);
    // Compressed for a browser that takes gzip, whole for one that does not.
    const zipped = await w.app.request('/dashboard', { headers: { cookie, 'accept-encoding': 'gzip, deflate, br' } });
    expect(zipped.headers.get('content-encoding')).toBe('gzip');
    expect(zipped.headers.get('vary')).toContain('Accept-Encoding');
    expect(gunzipSync(Buffer.from(await zipped.arrayBuffer())).toString('utf8')).toBe(page.text);
    expect(page.headers.get('content-encoding')).toBeNull();
  });
});
