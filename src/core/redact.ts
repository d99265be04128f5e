/**
 * The one place that decides what of a secret may be written down: access-log paths, NOT_FOUND
 * messages, error logs and OAuth audiences all pass through here. A secret is anything shaped like
 * a key (`pk_live_…`, `pk_test_…`, in any letter case) or a JWT (an access token), wherever it sits
 * in the text, plus whatever follows `/ot/` in a path (the MCP URL that carries a key), however the
 * path is spelled (`/OT/`, `//ot//`), and the one-time code after `/reveal/`.
 */
export const REDACTED = '[redacted]';

const KEY_SHAPED = 'pk_(?:live|test)_[0-9a-z]*';
/** A JWT's header is base64url JSON, so it starts with "eyJ"; the segments of a real one are long. */
const JWT_SHAPED = 'eyj[0-9a-z_-]{8,}\\.[0-9a-z_-]{8,}\\.[0-9a-z_-]*';
const SECRET = new RegExp(`(${KEY_SHAPED})|${JWT_SHAPED}`, 'gi');
const HAS_SECRET = new RegExp(`${KEY_SHAPED}|${JWT_SHAPED}`, 'i');
const OT_SEGMENT = /^(\/+ot\/+)[^/]+/i;
/** `/reveal/<code>`: a one-time code that shows a secret. */
const REVEAL_SEGMENT = /^(\/+reveal\/+)[^/]+/i;

/** The text with every key- or JWT-shaped string replaced (a key keeps its `pk_live_` prefix, so a reader knows what was there). */
export function redactSecrets(text: string): string {
  return text.replace(SECRET, (match, key: string | undefined) => (key === undefined ? REDACTED : `${match.slice(0, 8)}${REDACTED}`));
}

export function containsSecret(text: string): boolean {
  return HAS_SECRET.test(text);
}

/** A request path as a log line or an error message may show it. */
export function redactPath(path: string): string {
  return redactSecrets(path.replace(OT_SEGMENT, `$1${REDACTED}`).replace(REVEAL_SEGMENT, `$1${REDACTED}`));
}

/** Whether a path carries anything redactPath would hide: such a path must never be echoed into a token or a URL we issue. */
export function pathHoldsSecret(path: string): boolean {
  return OT_SEGMENT.test(path) || containsSecret(path);
}
