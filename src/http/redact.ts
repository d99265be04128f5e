/** `/ot/<key>…` carries a full key in the path: logs and error messages show it redacted. */
export function redactPath(path: string): string {
  return path.startsWith('/ot/') ? path.replace(/^\/ot\/[^/]*/, '/ot/[redacted]') : path;
}
