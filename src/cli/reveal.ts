import type { Config } from './config.js';
import { VERSION } from './version.js';

const GONE = 'dispersl-mcp: this reveal code is unknown, already used or expired (a code works once, for 10 minutes); if you did not see the secret, rotate the key\n';

/** Where remote mode's server shows a code: its /reveal/<code>, beside the /v1 of DISPERSL_BASE_URL. */
function remoteRevealUrl(baseUrl: string, code: string): URL {
  const base = new URL(baseUrl);
  const root = base.pathname.replace(/\/+$/, '').replace(/\/v1$/, '');
  return new URL(`${root}/reveal/${encodeURIComponent(code)}`, base.origin);
}

/**
 * `dispersl-mcp reveal <code>`: prints a secret delivered by reveal, once, to stdout (and nothing
 * else there, so it can be piped into a secret store). Local mode takes it from the database;
 * remote mode (DISPERSL_BASE_URL) from the server's reveal page.
 */
export async function runReveal(config: Config, code: string, out: (text: string) => void, err: (text: string) => void): Promise<number> {
  let secret: string | undefined;
  if (config.baseUrl) {
    const url = remoteRevealUrl(config.baseUrl, code);
    const answer = await fetch(url, { method: 'POST', headers: { accept: 'application/json', 'user-agent': `dispersl-mcp/${VERSION} (reveal)` }, redirect: 'error' });
    if (answer.status === 200) secret = ((await answer.json()) as { secret?: string }).secret;
    else if (answer.status !== 410) {
      err(`dispersl-mcp: the server at ${url.origin} answered HTTP ${answer.status}\n`);
      return 1;
    }
  } else {
    const [{ openStore }, { Reveals }] = await Promise.all([import('../store/open.js'), import('../core/reveals.js')]);
    const store = await openStore(config.dbPath);
    try {
      secret = await new Reveals(store).take(code);
    } finally {
      await store.close();
    }
  }
  if (secret === undefined) {
    err(GONE);
    return 1;
  }
  out(`${secret}\n`);
  return 0;
}
