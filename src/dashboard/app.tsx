import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { ASSETS } from './assets.js';
import { type DashboardEnv, antiForgery, dashboardHeaders, sameOrigin, signedIn } from './guard.js';
import { Layout, Problem } from './layout.js';
import { type DashboardDeps, acceptsGzip, render } from './page.js';
import { eventsRoutes } from './pages/events.js';
import { keyRoutes } from './pages/key.js';
import { keysRoutes } from './pages/keys.js';
import { newKeyRoutes } from './pages/new-key.js';
import { secretRoutes } from './pages/secret.js';
import { signInRoutes, signOutRoute } from './pages/sign-in.js';
import { usageRoutes } from './pages/usage.js';

export type { DashboardDeps } from './page.js';

/** A form is a few fields: anything bigger is not one of ours. */
const FORM_LIMIT = 64 * 1024;

/**
 * The web dashboard, mounted at /dashboard: server-rendered pages (Hono's JSX, escaped by default),
 * one stylesheet and one small script of our own, charts drawn as SVG on the server. Its session
 * authenticates these routes and nothing else.
 */
export function dashboardApp(deps: DashboardDeps): Hono<DashboardEnv> {
  const app = new Hono<DashboardEnv>();
  app.use(dashboardHeaders(), sameOrigin(deps));
  app.use(bodyLimit({ maxSize: FORM_LIMIT, onError: (c) => c.text('This form is too large.', 413) }));
  app.onError((err, c) => {
    deps.logger.error('dashboard page failed', { path: c.req.path, error: err instanceof Error ? err.message : String(err) });
    return render(
      c,
      <Layout title="Error">
        <Problem message="Something went wrong on our side. Try again; if it keeps happening, the server's log says why." />
      </Layout>,
      500,
    );
  });

  for (const asset of Object.values(ASSETS)) {
    app.get(asset.path.slice('/dashboard'.length), (c) => {
      c.header('Cache-Control', 'public, max-age=31536000, immutable');
      c.header('Vary', 'Accept-Encoding');
      if (acceptsGzip(c)) return c.body(asset.gzipped, 200, { 'Content-Type': asset.type, 'Content-Encoding': 'gzip' });
      return c.body(asset.body, 200, { 'Content-Type': asset.type });
    });
  }
  signInRoutes(app, deps);

  // Every route below needs a session, and every write its anti-forgery token.
  app.use(signedIn(deps), antiForgery());
  signOutRoute(app, deps);
  keysRoutes(app, deps);
  newKeyRoutes(app, deps);
  secretRoutes(app, deps);
  keyRoutes(app, deps);
  usageRoutes(app, deps);
  eventsRoutes(app, deps);
  app.all('*', (c) =>
    render(
      c,
      <Layout title="Not found" session={c.get('session')}>
        <Problem message="There is no such page in the dashboard." />
      </Layout>,
      404,
    ),
  );
  return app;
}
