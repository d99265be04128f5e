import type { Hono } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { OperationResult } from '../../core/operations/index.js';
import { REVEAL_TTL_MS } from '../../core/reveals.js';
import { KeyId } from '../../core/schemas.js';
import { type DashboardContext, type DashboardEnv, SECRET_COOKIE, cookieOptions } from '../guard.js';
import { Layout } from '../layout.js';
import { type DashboardDeps, render, run, unlessRefused } from '../page.js';

/**
 * A new key's secret is shown once, on a page of its own that a reload cannot show again: the form
 * that made the key parks the secret sealed (a one-time reveal, stored in the key's own transaction),
 * hands the browser the reveal's code in a cookie for the dashboard's paths only, and redirects; the
 * page takes the reveal and drops the cookie. The secret is never in a URL, the browser's history or
 * a cache, and the form is never posted twice by a reload (which would make a second key).
 */
export async function runSealed<N extends 'generateKey' | 'rotateKey'>(c: DashboardContext, deps: DashboardDeps, name: N, input: unknown): Promise<{ made: OperationResult<N>; code: string }> {
  const { result, code } = await deps.reveals.issue((seal) => run(c, deps, name, input, seal));
  return { made: result, code };
}

/** The redirect to the page that shows a new key's secret once, the code of its reveal in a cookie. */
export function showSecretOnce(c: DashboardContext, deps: DashboardDeps, keyId: string, code: string): Response {
  setCookie(c, SECRET_COOKIE, code, cookieOptions(deps.secure, Math.floor(REVEAL_TTL_MS / 1000)));
  return c.redirect(`/dashboard/keys/${keyId}/secret`, 303);
}

export function secretRoutes(app: Hono<DashboardEnv>, deps: DashboardDeps): void {
  app.get('/keys/:id/secret', async (c) => {
    const id = c.req.param('id');
    const code = getCookie(c, SECRET_COOKIE);
    if (code === undefined || !KeyId.safeParse(id).success) return c.redirect('/dashboard', 303);
    // The key first (this organization's, readable by this session), the one-time reveal last.
    const key = await unlessRefused(run(c, deps, 'getKey', { id }));
    if (key === undefined) return c.redirect('/dashboard', 303);
    deleteCookie(c, SECRET_COOKIE, cookieOptions(deps.secure));
    const secret = await deps.reveals.take(code);
    // Only this key's secret: anything else is not shown.
    if (secret === undefined || (await deps.service.keyIdOfSecret(c.get('session').caller, secret)) !== id) {
      return c.redirect(`/dashboard/keys/${id}`, 303);
    }
    return render(
      c,
      <Layout title="New key" session={c.get('session')} section="keys">
        <h1>Your new key: {key.name}</h1>
        <section class="secret" aria-labelledby="secret-title">
          <h2 id="secret-title">Copy the secret now — you will not see it again</h2>
          <p>Only a hash of it is kept: no one can show it to you later. Store it where it will be used (a secret store, a password manager, a CI secret).</p>
          <code id="secret">{secret}</code>
          <button type="button" data-copy="secret">
            Copy
          </button>
        </section>
        <p>
          <a class="button secondary" href={`/dashboard/keys/${id}`}>
            I have stored it
          </a>
        </p>
      </Layout>,
    );
  });
}
