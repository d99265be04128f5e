import type { Hono } from 'hono';
import { clientIp } from '../../http/credential.js';
import { Misses } from '../../http/misses.js';
import { Layout, Problem } from '../layout.js';
import { type DashboardEnv, endSession, sessionToken, signInAs } from '../guard.js';
import { type DashboardDeps, field, formOf, problemOf, render } from '../page.js';

/** Why a session ended, as the sign-in page says it. */
const ENDED = new Map<string, string>([
  ['REVOKED_API_KEY', 'The key you signed in with has been revoked, which ended your session.'],
  ['DISABLED_API_KEY', 'The key you signed in with has been disabled, which ended your session.'],
  ['EXPIRED_API_KEY', 'The key you signed in with has expired, which ended your session.'],
  ['IP_NOT_ALLOWED', 'The key you signed in with may not be used from your address, which ended your session.'],
  ['INSUFFICIENT_PERMISSIONS', 'The key you signed in with may no longer read keys, which ended your session.'],
]);

/** Failed sign-ins allowed per address in a window: keys cannot be guessed, but no one should get to try freely. */
const MAX_FAILURES = 10;
const FAILURE_WINDOW_MS = 15 * 60_000;

function SignInPage({ notice, problem }: { notice?: string | undefined; problem?: string | undefined }) {
  return (
    <Layout title="Sign in">
      <div class="sign-in">
        <h1>Sign in to the dashboard</h1>
        {notice && (
          <p class="notice" role="status">
            {notice}
          </p>
        )}
        {problem && <Problem message={problem} />}
        <form method="post" action="/dashboard/sign-in">
          <div class="field">
            <label for="key">API key</label>
            <input id="key" name="key" type="password" autocomplete="off" spellcheck={false} required aria-describedby="key-hint" />
            <p class="hint" id="key-hint">
              A key that may read keys (keys:read, keys:write or admin). It starts a session and is not kept by your browser; the
              dashboard then offers only what this key may do.
            </p>
          </div>
          <button type="submit">Sign in</button>
        </form>
      </div>
    </Layout>
  );
}

export function signInRoutes(app: Hono<DashboardEnv>, deps: DashboardDeps): void {
  const failures = new Misses(MAX_FAILURES, FAILURE_WINDOW_MS, deps.clock);

  app.get('/sign-in', async (c) => {
    const ended = c.req.query('ended');
    const notice = c.req.query('signed_out') !== undefined ? 'You have signed out.' : ended && (ENDED.get(ended) ?? 'Your session has ended.');
    return render(c, <SignInPage notice={notice} />);
  });

  app.post('/sign-in', async (c) => {
    const ip = clientIp(c);
    if (failures.limited(ip)) {
      c.header('Retry-After', String(failures.retryAfterSeconds));
      return render(c, <SignInPage problem="Too many failed sign-ins from your address. Try again in 15 minutes." />, 429);
    }
    const token = field(await formOf(c), 'key');
    try {
      const session = await signInAs(c, deps, token === '' ? undefined : token);
      deps.logger.info('dashboard sign-in', { key_start: session.caller.key.start, org_id: session.caller.org.id });
      return c.redirect('/dashboard', 303);
    } catch (err) {
      const problem = problemOf(err);
      failures.miss(ip);
      return render(c, <SignInPage problem={problem.message} />, problem.status === 403 ? 403 : 400);
    }
  });
}

/** Sign-out: a write like any other, behind the session and its anti-forgery token. */
export function signOutRoute(app: Hono<DashboardEnv>, { sessions, secure }: DashboardDeps): void {
  app.post('/sign-out', async (c) => {
    await sessions.signOut(sessionToken(c));
    endSession(c, secure);
    return c.redirect('/dashboard/sign-in?signed_out', 303);
  });
}
