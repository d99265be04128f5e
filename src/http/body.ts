import type { IncomingMessage } from 'node:http';
import { DisperslError, invalidRequest } from '../core/errors.js';
import { type AppContext, headerOf, incomingOf } from './env.js';

export const DEFAULT_BODY_LIMIT = 256 * 1024;
export const DEFAULT_MAX_DEPTH = 64;

export function tooLarge(limit: number): DisperslError {
  return new DisperslError('PAYLOAD_TOO_LARGE', `The request body is larger than ${limit} bytes`, { limit });
}

const cutShort = () => invalidRequest([{ path: '', message: 'the request body was cut short' }]);

/** A declared Content-Length over the limit, known before a byte of the body is read. */
export function declaredTooLarge(c: AppContext, limit: number): boolean {
  const declared = headerOf(c, 'content-length');
  return declared !== undefined && Number(declared) > limit;
}

/**
 * The request body as text, refused past `limit` bytes whether or not Content-Length was sent.
 * Under @hono/node-server it reads the Node stream directly: building a web Request only to read
 * a small JSON body costs more than the rest of a request.
 */
export async function readBody(c: AppContext, limit: number): Promise<string> {
  if (declaredTooLarge(c, limit)) throw tooLarge(limit);
  const incoming = incomingOf(c);
  if (incoming === undefined || incoming.readableEnded) {
    const bytes = new Uint8Array(await c.req.arrayBuffer());
    if (bytes.byteLength > limit) throw tooLarge(limit);
    return Buffer.from(bytes).toString('utf8');
  }
  return readStream(incoming, limit);
}

/** Reads without async iteration: leaving that loop early would destroy the socket before the 413 is sent. */
function readStream(incoming: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (error?: Error) => {
      incoming.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
      if (error) reject(error);
      else resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8'));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        incoming.pause();
        done(tooLarge(limit));
      } else chunks.push(chunk);
    };
    const onEnd = () => done();
    // A client that hangs up mid-body: nobody will read the answer, but the handler must not hang.
    const onError = () => done(cutShort());
    const onClose = () => done(cutShort());
    incoming.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  });
}

/** How deeply arrays and objects nest in a JSON text, found without parsing it (so without recursion). */
export function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 0x5c) i++; // backslash: skip the escaped character
      else if (ch === 0x22) inString = false;
    } else if (ch === 0x22) inString = true;
    else if (ch === 0x7b || ch === 0x5b) {
      depth++;
      if (depth > max) max = depth;
    } else if (ch === 0x7d || ch === 0x5d) depth--;
  }
  return max;
}

/**
 * Whether a JSON text may nest deeper than `maxDepth`: never when it holds no more than `maxDepth`
 * opening brackets at all, which a native search counts far faster than jsonDepth walks every character.
 */
function mayNestDeeper(text: string, maxDepth: number): boolean {
  let openings = 0;
  for (const bracket of ['{', '[']) {
    for (let i = text.indexOf(bracket); i !== -1 && openings <= maxDepth; i = text.indexOf(bracket, i + 1)) openings++;
  }
  return openings > maxDepth && jsonDepth(text) > maxDepth;
}

export type ParsedJson = { ok: true; value: unknown } | { ok: false; reason: 'syntax' | 'depth'; error: DisperslError };

/** JSON.parse that answers the contract's errors: malformed JSON and nesting past `maxDepth` are INVALID_REQUEST. */
export function parseJson(text: string, maxDepth: number = DEFAULT_MAX_DEPTH): ParsedJson {
  if (mayNestDeeper(text, maxDepth)) {
    return { ok: false, reason: 'depth', error: invalidRequest([{ path: '', message: `JSON nested deeper than ${maxDepth} levels` }]) };
  }
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false, reason: 'syntax', error: invalidRequest([{ path: '', message: 'the body is not valid JSON' }], 'The request body is not valid JSON') };
  }
}

function isJsonType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const essence = contentType.split(';', 1)[0]!.trim().toLowerCase();
  return essence === 'application/json' || (essence.startsWith('application/') && essence.endsWith('+json'));
}

export function hasJsonContentType(c: AppContext): boolean {
  return isJsonType(headerOf(c, 'content-type'));
}

/**
 * A REST request's JSON object body. An empty body reads as `{}` when `optional` (POST …/rotate);
 * anything else must be a JSON object sent as application/json.
 */
export async function jsonObjectBody(c: AppContext, limit: number, maxDepth: number, optional = false): Promise<Record<string, unknown>> {
  const text = await readBody(c, limit);
  if (optional && text.trim() === '') return {};
  if (!hasJsonContentType(c)) {
    throw invalidRequest([{ path: '', message: 'send the body as application/json' }], 'Content-Type must be application/json');
  }
  const parsed = parseJson(text, maxDepth);
  if (!parsed.ok) throw parsed.error;
  const value = parsed.value;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidRequest([{ path: '', message: 'the body must be a JSON object' }]);
  }
  return value as Record<string, unknown>;
}
