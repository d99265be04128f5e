import { createHash } from 'node:crypto';
import type { Handler } from 'hono';
import type { Reveals } from '../core/reveals.js';
import { clientIp } from './credential.js';
import type { AppContext, AppEnv } from './env.js';
import { Misses } from './misses.js';
import { pageHeaders } from './middleware/security-headers.js';

/**
 * `GET /reveal/<code>`: a page with one button; `POST /reveal/<code>`: the secret, once (then 410).
 * GET shows nothing secret, so a link preview or a chat unfurler cannot use the code up. Answers are
 * never cached, the page runs no script and loads nothing (a strict Content-Security-Policy), and
 * guesses are limited per address. A POST asking for JSON gets `{"secret"}`: what
 * `dispersl-mcp reveal <code>` uses in remote mode.
 */

const STYLE = 'body{font:16px system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#222}code{display:block;padding:1rem;background:#f4f4f4;word-break:break-all;font-size:1.1rem;user-select:all}button{font-size:1rem;padding:.6rem 1.2rem}';
const STYLE_HASH = createHash('sha256').update(STYLE).digest('base64');
const CSP = `default-src 'none'; style-src 'sha256-${STYLE_HASH}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`;

/** Misses allowed per address and window: a 128-bit code cannot be guessed, but nothing should be free to try. */
const MAX_MISSES = 20;
const MISS_WINDOW_MS = 10 * 60_000;

function page(c: AppContext, status: 200 | 410 | 429, title: string, body: string): Response {
  pageHeaders(c, CSP, 'no-referrer');
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="robots" content="noindex"><title>${title}</title><style>${STYLE}</style></head><body>${body}</body></html>`;
  return c.html(html, status);
}

const GONE = '<h1>This link has been used or has expired</h1><p>A reveal link shows its secret once, for 10 minutes. If you did not see the secret, rotate the key to get a new one.</p>';

export interface RevealPageOptions {
  reveals: Reveals;
  clock?: () => number;
}

export function revealPages({ reveals, clock = Date.now }: RevealPageOptions): { show: Handler<AppEnv>; take: Handler<AppEnv> } {
  const misses = new Misses(MAX_MISSES, MISS_WINDOW_MS, clock);
  const wantsJson = (c: AppContext) => (c.req.header('accept') ?? '').includes('application/json');
  const tooMany = (c: AppContext) => {
    c.header('Retry-After', String(misses.retryAfterSeconds));
    if (wantsJson(c)) return c.json({ error: { code: 429, type: 'RATE_LIMIT_EXCEEDED', message: 'Too many unknown reveal codes from this address', details: {} } }, 429);
    return page(c, 429, 'Too many attempts', '<h1>Too many attempts</h1><p>Try again later.</p>');
  };
  return {
    async show(c) {
      const ip = clientIp(c);
      if (misses.limited(ip)) return tooMany(c);
      if (!(await reveals.waiting(c.req.param('code') ?? ''))) {
        misses.miss(ip);
        return page(c, 410, 'Link used or expired', GONE);
      }
      return page(
        c,
        200,
        'Reveal API key',
        '<h1>Reveal your new API key</h1><p>The secret is shown once: after you reveal it, this link stops working. Have a place ready to store it (a password manager, an environment variable, a CI secret).</p><form method="post"><button type="submit">Reveal the secret</button></form>',
      );
    },
    async take(c) {
      const ip = clientIp(c);
      if (misses.limited(ip)) return tooMany(c);
      const secret = await reveals.take(c.req.param('code') ?? '');
      if (secret === undefined) {
        misses.miss(ip);
        if (wantsJson(c)) {
          c.header('Cache-Control', 'no-store');
          return c.json({ error: { code: 404, type: 'NOT_FOUND', message: 'This reveal code is unknown, already used or expired', details: {} } }, 410);
        }
        return page(c, 410, 'Link used or expired', GONE);
      }
      if (wantsJson(c)) {
        c.header('Cache-Control', 'no-store');
        return c.json({ secret }, 200);
      }
      const escaped = secret.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
      return page(c, 200, 'Your API key', `<h1>Your new API key</h1><p>Copy it now: it is not shown again.</p><code>${escaped}</code>`);
    },
  };
}
