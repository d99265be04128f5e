/** `/ot/<key>…` carries a full key in the path, `/reveal/<code>` a one-time code: logs and error messages show them redacted. */
export function redactPath(path: string): string {
  if (path.startsWith('/reveal/')) return path.replace(/^\/reveal\/[^/]*/, '/reveal/[redacted]');
  return path.startsWith('/ot/') ? path.replace(/^\/ot\/[^/]*/, '/ot/[redacted]') : path;
}
