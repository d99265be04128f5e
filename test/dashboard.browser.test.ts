import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessibilityViolations, browserAvailable, launchChromium, watchedPage } from './helpers/browser.js';
import { type Served, errorType, httpClient, rest, serve, stopAll, tool } from './helpers/http-serve.js';
import { type Initialized, type Sandbox, awayFromHourEdge, init, sandbox } from './helpers/sandbox.js';

/**
 * The dashboard as a person uses it: a real `serve`, a real Chromium, the keys changed there checked
 * over REST (and the other way round). Screenshots of the main pages go to docs/dashboard/ when
 * DISPERSL_SCREENSHOTS=1 (`npm run docs:screenshots`).
 */

const SCREENSHOTS = process.env.DISPERSL_SCREENSHOTS === '1' ? fileURLToPath(new URL('../docs/dashboard/', import.meta.url)) : undefined;
const PAGE_WEIGHT_LIMIT = 150 * 1024;

let box: Sandbox;
let server: Served;
let admin: Initialized;
let browser: Browser;

async function makeKey(fields: Record<string, unknown>): Promise<{ id: string; secret: string }> {
  const answer = await rest(server.url, 'POST', '/v1/api-keys', { key: admin.secret, body: fields });
  expect(answer.status).toBe(201);
  const body = answer.json as { id: string; secret_key: string };
  return { id: body.id, secret: body.secret_key };
}

async function signIn(page: Page, secret: string): Promise<void> {
  await page.goto(`${server.url}/dashboard`);
  await expect.poll(() => page.url()).toContain('/dashboard/sign-in');
  await page.getByLabel('API key').fill(secret);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${server.url}/dashboard`);
}

async function shoot(page: Page, name: string): Promise<void> {
  if (SCREENSHOTS === undefined) return;
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.setViewportSize({ width: 1200, height: 800 });
  await page.screenshot({ path: `${SCREENSHOTS}${name}.png`, fullPage: true });
}

const run = browserAvailable() ? describe : describe.skip;

run('the dashboard in a real browser', () => {
  beforeAll(async () => {
    box = sandbox();
    admin = await init(box);
    server = await serve(box);
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await stopAll();
    box?.remove();
  });

  it('redirects / to the dashboard, and refuses a wrong key without starting a session', async () => {
    const { page, context, errors } = await watchedPage(browser);
    await page.goto(server.url);
    await page.waitForURL(/\/dashboard\/sign-in$/);
    await page.getByLabel('API key').fill('pk_live_notarealkeyatall0000000000000000');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toContain('Failed to verify');
    expect(page.url()).toContain('/dashboard/sign-in');
    expect((await context.cookies()).map((c) => c.name)).not.toContain('dispersl_session');
    // The refused sign-in answers 400, which the browser reports; nothing else went wrong.
    expect(errors).toEqual(['Failed to load resource: the server responded with a status of 400 (Bad Request)']);
    await context.close();
  });

  it('signs in, lists and filters keys, creates a key whose secret is shown once, and signs out', async () => {
    const { page, context, errors } = await watchedPage(browser);
    await makeKey({ name: 'nightly batch', environment: 'test', permissions: ['keys:read'] });
    await signIn(page, admin.secret);
    const [cookie] = (await context.cookies()).filter((c) => c.name === 'dispersl_session');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/dashboard' });
    expect(cookie!.value).not.toContain(admin.secret);
    await expect.poll(() => page.locator('tbody tr').count()).toBe(2);
    await shoot(page, 'keys');

    await page.getByLabel('Environment').selectOption('test');
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect.poll(() => page.locator('tbody tr').count()).toBe(1);
    await expect(page.locator('tbody tr').first().textContent()).resolves.toContain('nightly batch');

    await page.getByRole('link', { name: 'New key' }).click();
    await page.getByLabel('Name', { exact: true }).fill('CI (GitHub Actions)');
    await page.getByLabel('Environment').selectOption('test');
    await page.getByLabel('keys:write').check();
    await page.getByLabel('Expires', { exact: true }).selectOption('604800');
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.waitForURL(/\/secret$/);
    const secret = (await page.locator('#secret').textContent())!.trim();
    expect(secret).toMatch(/^pk_test_/);
    await expect(page.getByRole('heading', { name: /you will not see it again/ }).count()).resolves.toBe(1);
    await page.getByRole('button', { name: 'Copy' }).click();
    await expect.poll(() => page.evaluate('navigator.clipboard.readText()')).toBe(secret);
    await shoot(page, 'new-key-secret');
    expect(page.url()).not.toContain(secret);

    // The new key works, with what the form asked for.
    const whoami = await rest(server.url, 'GET', '/v1/me', { key: secret });
    expect(whoami.status).toBe(200);
    expect((whoami.json as { key: { name: string; permissions: string[]; expires_at: string } }).key).toMatchObject({ name: 'CI (GitHub Actions)', permissions: ['keys:read', 'keys:write'] });

    // A reload, or going back, shows it no more.
    await page.reload();
    expect(page.url()).not.toMatch(/\/secret$/);
    expect(await page.content()).not.toContain(secret);
    await page.goBack();
    expect(await page.content()).not.toContain(secret);

    await page.goto(`${server.url}/dashboard`);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/dashboard\/sign-in\?signed_out$/);
    // The old cookie, put back by hand, no longer signs in.
    await context.addCookies([{ ...cookie!, expires: -1 }]);
    await page.goto(`${server.url}/dashboard`);
    await page.waitForURL(/\/dashboard\/sign-in$/);
    expect(errors).toEqual([]);
    await context.close();
  });

  it('renames, disables and enables, rotates with grace and revokes with the typed name, each seen over REST', async () => {
    const { page, context, errors } = await watchedPage(browser);
    const target = await makeKey({ name: 'billing worker', permissions: ['keys:read'] });
    await signIn(page, admin.secret);
    await page.goto(`${server.url}/dashboard/keys/${target.id}`);

    await page.getByLabel('New name').fill('billing worker v2');
    await page.getByRole('button', { name: 'Rename' }).click();
    await expect(page.getByRole('status').textContent()).resolves.toContain('renamed');
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('billing worker v2');

    await page.getByRole('button', { name: 'Disable key' }).click();
    await expect(page.getByRole('status').textContent()).resolves.toContain('disabled');
    expect(errorType(await rest(server.url, 'GET', '/v1/keys', { key: target.secret }))).toBe('DISABLED_API_KEY');
    await page.getByRole('button', { name: 'Enable key' }).click();
    expect((await rest(server.url, 'GET', '/v1/keys', { key: target.secret })).status).toBe(200);

    await page.getByLabel('The old key keeps working for').selectOption('86400');
    await page.getByRole('button', { name: 'Rotate key' }).click();
    await page.waitForURL(/\/secret$/);
    const successor = (await page.locator('#secret').textContent())!.trim();
    expect((await rest(server.url, 'GET', '/v1/me', { key: successor })).status).toBe(200);
    expect((await rest(server.url, 'GET', '/v1/me', { key: target.secret })).status).toBe(200);
    await page.getByRole('link', { name: 'I have stored it' }).click();
    await page.getByRole('link', { name: target.id }).click();
    await page.waitForURL(new RegExp(`/dashboard/keys/${target.id}$`));

    // The wrong name revokes nothing; the right one does.
    await page.getByLabel('Type the key’s name to confirm').fill('billing');
    await expect(page.getByRole('button', { name: 'Revoke key' }).isDisabled()).resolves.toBe(true);
    await page.evaluate("document.querySelector('button.danger').disabled = false");
    await page.getByRole('button', { name: 'Revoke key' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toContain('does not match');
    expect((await rest(server.url, 'GET', '/v1/me', { key: target.secret })).status).toBe(200);
    await page.getByLabel('Type the key’s name to confirm').fill('billing worker v2');
    await page.getByRole('button', { name: 'Revoke key' }).click();
    await expect(page.getByRole('status').textContent()).resolves.toContain('revoked');
    expect(errorType(await rest(server.url, 'GET', '/v1/me', { key: target.secret }))).toBe('REVOKED_API_KEY');

    // The trail lists each change, made by the signed-in key.
    await page.goto(`${server.url}/dashboard/events?key_id=${target.id}`);
    const rows = page.locator('tbody tr');
    const types = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-event-type')));
    expect(types).toEqual(['key.revoked', 'key.rotated', 'key.enabled', 'key.disabled', 'key.updated', 'key.created']);
    const actors = await page.locator('td[data-actor]').evaluateAll((tds) => tds.map((td) => td.getAttribute('data-actor')));
    expect(new Set(actors)).toEqual(new Set([admin.keyId]));
    await shoot(page, 'events');
    // The mistyped name was answered 400, which the browser reports; nothing else went wrong.
    expect(errors).toEqual(['Failed to load resource: the server responded with a status of 400 (Bad Request)']);
    await context.close();
  });

  it('charts the requests a key made over REST and MCP, admitted, rate-limited and denied alike', async () => {
    await awayFromHourEdge(90_000);
    const busy = await makeKey({ name: 'busy reader', permissions: ['keys:read'], rate_limit: { max: 4, window_ms: 3_600_000 } });
    const client = await httpClient(`${server.url}/mcp`, busy.secret);
    expect((await tool(client, 'list_keys')).ok).toBe(true);
    expect((await tool(client, 'whoami')).ok).toBe(true);
    await client.close();
    for (let i = 0; i < 2; i++) expect((await rest(server.url, 'GET', '/v1/keys', { key: busy.secret })).status).toBe(200);
    expect(errorType(await rest(server.url, 'GET', '/v1/keys', { key: busy.secret }))).toBe('RATE_LIMIT_EXCEEDED');
    const idle = await makeKey({ name: 'switched off', permissions: ['keys:read'] });
    await rest(server.url, 'PATCH', `/v1/keys/${idle.id}`, { key: admin.secret, body: { enabled: false } });
    expect(errorType(await rest(server.url, 'GET', '/v1/keys', { key: idle.secret }))).toBe('DISABLED_API_KEY');

    const { page, context, errors } = await watchedPage(browser);
    await signIn(page, admin.secret);
    const totals = async (chart: string) =>
      Object.fromEntries(
        await page.locator(`#${chart} [data-total]`).evaluateAll((els) => els.map((el) => [el.getAttribute('data-total'), Number(el.textContent!.replace(/,/g, ''))])),
      );
    await page.goto(`${server.url}/dashboard/keys/${busy.id}`);
    expect(await totals('usage-hourly')).toEqual({ admitted: 4, rate_limited: 1, denied: 0 });
    expect(await totals('usage-daily')).toEqual({ admitted: 4, rate_limited: 1, denied: 0 });
    await shoot(page, 'key');
    await page.goto(`${server.url}/dashboard/keys/${idle.id}`);
    expect(await totals('usage-hourly')).toEqual({ admitted: 0, rate_limited: 0, denied: 1 });

    await page.goto(`${server.url}/dashboard/usage`);
    const top = await page.locator('table.top-keys').first().locator('tbody tr').allTextContents();
    expect(top.some((row) => row.includes('busy reader'))).toBe(true);
    await shoot(page, 'usage');
    expect(errors).toEqual([]);
    await context.close();
  });

  it('offers a keys:read key no write, and refuses its forged writes', async () => {
    const reader = await makeKey({ name: 'auditor', permissions: ['keys:read'] });
    const victim = await makeKey({ name: 'keep me', permissions: ['keys:read'] });
    const { page, context, errors } = await watchedPage(browser);
    await signIn(page, reader.secret);
    await expect(page.getByRole('link', { name: 'New key' }).count()).resolves.toBe(0);
    await page.goto(`${server.url}/dashboard/keys/${victim.id}`);
    await expect(page.locator('form[method=post]').count()).resolves.toBe(1); // sign-out only
    await expect(page.getByRole('heading', { name: 'Change this key' }).count()).resolves.toBe(0);

    // A write forged from the page itself, with a valid session and anti-forgery token, is still refused by the rules.
    const post = (verb: string, fields: Record<string, string>) =>
      page.evaluate(`fetch('/dashboard/keys/${victim.id}/${verb}', { method: 'POST', body: new URLSearchParams(${JSON.stringify(fields)}) }).then((r) => r.status)`);
    const csrf = (await page.locator('input[name=csrf]').first().inputValue()) ?? '';
    expect(await post('revoke', { csrf, confirm_name: 'keep me' })).toBe(403);
    // Without the token it is refused before anything runs.
    const tokenless = await post('update', { enabled: 'false' });
    expect(tokenless).toBe(403);
    expect((await rest(server.url, 'GET', '/v1/me', { key: victim.secret })).status).toBe(200);
    expect(errors).toEqual(Array(2).fill('Failed to load resource: the server responded with a status of 403 (Forbidden)'));
    await context.close();
  });

  it('refuses a cross-origin form post, and never lets the session cookie reach /v1', async () => {
    const victim = await makeKey({ name: 'cross-site target', permissions: ['keys:read'] });
    const { page, context } = await watchedPage(browser);
    await signIn(page, admin.secret);
    let answered = 0;
    page.on('response', (response) => {
      if (response.url().includes('/revoke')) answered = response.status();
    });
    await context.route('http://attacker.test/**', (route) =>
      route.fulfill({
        contentType: 'text/html',
        body: `<form method="post" action="${server.url}/dashboard/keys/${victim.id}/revoke"><input name="confirm_name" value="cross-site target"></form><script>document.forms[0].submit()</script>`,
      }),
    );
    await page.goto('http://attacker.test/');
    await expect.poll(() => answered).toBeGreaterThan(0);
    expect(answered).toBe(403);
    expect((await rest(server.url, 'GET', '/v1/me', { key: victim.secret })).status).toBe(200);

    // The cookie is for /dashboard only, and /v1 takes keys, never a session.
    const cookie = (await context.cookies()).find((c) => c.name === 'dispersl_session')!;
    const minted = await rest(server.url, 'GET', '/v1/keys/new', { headers: { Cookie: `dispersl_session=${cookie.value}` } });
    expect(errorType(minted)).toBe('MISSING_API_KEY');
    await context.close();
  });

  it('ends the session of a key revoked elsewhere, on its next page', async () => {
    const operator = await makeKey({ name: 'on-call laptop', permissions: ['keys:read'] });
    const { page, context } = await watchedPage(browser);
    await signIn(page, operator.secret);
    expect((await rest(server.url, 'DELETE', `/v1/keys/${operator.id}`, { key: admin.secret })).status).toBe(200);
    await page.reload();
    await page.waitForURL(/\/dashboard\/sign-in\?ended=REVOKED_API_KEY$/);
    await expect(page.getByRole('status').textContent()).resolves.toContain('revoked');
    await context.close();
  });

  it('serves every page with a strict CSP, no console error, no serious accessibility violation and under 150 KB', async () => {
    const { page, context, errors } = await watchedPage(browser);
    await page.goto(`${server.url}/dashboard/sign-in`);
    await shoot(page, 'sign-in');
    // Keyboard only: the key field takes focus by Tab, Enter submits.
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    await expect(page.evaluate('document.activeElement?.id')).resolves.toBe('key');
    await page.keyboard.type(admin.secret);
    await page.keyboard.press('Enter');
    await page.waitForURL(`${server.url}/dashboard`);
    const someKey = await page.locator('tbody tr').first().getAttribute('data-key-id');
    const pages = ['/dashboard/sign-in', '/dashboard', '/dashboard/keys/new', `/dashboard/keys/${someKey}`, '/dashboard/usage', '/dashboard/events'];
    for (const path of pages) {
      let bytes = 0;
      const sizes: Array<Promise<void>> = [];
      const count = (response: import('playwright-core').Response) => sizes.push(response.request().sizes().then((s) => void (bytes += s.responseBodySize + s.responseHeadersSize)));
      page.on('response', count);
      const response = await page.goto(`${server.url}${path}`);
      await page.waitForLoadState('load');
      page.off('response', count);
      await Promise.all(sizes);
      const csp = response!.headers()['content-security-policy'];
      expect(csp, path).toContain("script-src 'self'");
      expect(csp, path).toContain("frame-ancestors 'none'");
      expect(csp, path).not.toContain('unsafe-inline');
      expect(response!.headers()['x-content-type-options'], path).toBe('nosniff');
      expect(bytes, path).toBeLessThan(PAGE_WEIGHT_LIMIT);
      expect(await accessibilityViolations(page), path).toEqual([]);
    }
    expect(errors).toEqual([]);
    await context.close();
  });
});
