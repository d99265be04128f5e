import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

/**
 * The dashboard's stylesheet and script, read once from beside this module (the build copies them
 * into the package). Each is served under a name carrying a hash of its content, so a browser may
 * keep it for a year and still never runs an old script against a new page.
 */
export interface Asset {
  /** The path pages link to, e.g. /dashboard/assets/app.3f2a…js */
  path: string;
  type: string;
  body: string;
  gzipped: Uint8Array<ArrayBuffer>;
}

function load(file: string, type: string): Asset {
  const body = readFileSync(new URL(`./assets/${file}`, import.meta.url), 'utf8');
  const hash = createHash('sha256').update(body).digest('hex').slice(0, 12);
  const [name, ext] = file.split('.') as [string, string];
  return { path: `/dashboard/assets/${name}.${hash}.${ext}`, type, body, gzipped: gzipSync(body) };
}

export const ASSETS = {
  style: load('style.css', 'text/css; charset=utf-8'),
  script: load('app.js', 'text/javascript; charset=utf-8'),
  icon: load('icon.svg', 'image/svg+xml'),
};
