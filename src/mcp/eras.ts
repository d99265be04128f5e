import { SUPPORTED_PROTOCOL_VERSIONS } from './protocol.js';

/**
 * MCP's two protocol eras, told apart per message.
 *
 * Legacy (2024-11-05 … 2025-11-25): an `initialize` handshake negotiates the revision. Modern
 * (2026-07-28, the stateless revision): no handshake; every request carries its revision and the
 * client's capabilities in `params._meta`, and over HTTP the `MCP-Protocol-Version`, `Mcp-Method`
 * and `Mcp-Name` headers mirror the body so intermediaries can route without parsing it.
 * https://modelcontextprotocol.io/specification/2026-07-28/basic/versioning
 * https://modelcontextprotocol.io/specification/2026-07-28/basic/transports#standard-request-headers
 *
 * Classification is body-primary, as in the SDK v2 (`classifyInboundRequest`): a message is modern
 * when its `_meta` names a protocol version; headers only cross-check the body, so a proxy that strips
 * a header cannot change which era a message speaks. The checks run in the SDK's ladder order, so a
 * request that breaks several rules gets the same error from this server as from the reference one.
 */

export const MODERN_PROTOCOL_VERSION = '2026-07-28';
/** What server/discover and the unsupported-version error list: the modern revision first. */
export const ALL_PROTOCOL_VERSIONS: readonly string[] = [MODERN_PROTOCOL_VERSION, ...SUPPORTED_PROTOCOL_VERSIONS];

export const META = {
  protocolVersion: 'io.modelcontextprotocol/protocolVersion',
  clientCapabilities: 'io.modelcontextprotocol/clientCapabilities',
  clientInfo: 'io.modelcontextprotocol/clientInfo',
  logLevel: 'io.modelcontextprotocol/logLevel',
  serverInfo: 'io.modelcontextprotocol/serverInfo',
} as const;

/** Error codes the 2026-07-28 revision adds to JSON-RPC's. */
export const MODERN_ERRORS = {
  HEADER_MISMATCH: -32020,
  MISSING_CLIENT_CAPABILITY: -32021,
  UNSUPPORTED_PROTOCOL_VERSION: -32022,
} as const;

const LOG_LEVELS = new Set(['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency']);

/** The request parameter `Mcp-Name` mirrors, per method (the transports page's "Required For" column). */
const NAME_SOURCE: Readonly<Record<string, string>> = { 'tools/call': 'name', 'prompts/get': 'name', 'resources/read': 'uri' };

export interface Envelope {
  version: string;
  capabilities: Record<string, unknown>;
}

/** The revision's standard headers as received (undefined when absent); absent altogether over stdio. */
export interface StandardHeaders {
  protocolVersion?: string | undefined;
  method?: string | undefined;
  name?: string | undefined;
}

export interface Rejection {
  /** The HTTP status the revision asks for. */
  status: number;
  code: number;
  message: string;
  data?: unknown;
}

export type Route = { era: 'legacy' } | { era: 'modern'; envelope: Envelope } | { era: 'reject'; rejection: Rejection };

const LEGACY: Route = { era: 'legacy' };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isModernVersion(version: string): boolean {
  // Revision identifiers are ISO dates; an unknown future one is still modern.
  return version >= MODERN_PROTOCOL_VERSION;
}

function metaOf(params: unknown): Record<string, unknown> | undefined {
  return isObject(params) && isObject(params._meta) ? params._meta : undefined;
}

/** Whether a message claims the per-request envelope: its `_meta` names a protocol version (any value). */
export function hasEnvelopeClaim(params: unknown): boolean {
  const meta = metaOf(params);
  return meta !== undefined && META.protocolVersion in meta;
}

/** RFC 9110 §5.5: a field value is compared without the whitespace around it. */
function trimOws(value: string | undefined): string | undefined {
  return value?.replace(/^[ \t]+|[ \t]+$/g, '');
}

function reject(status: number, code: number, message: string, data?: unknown): Route {
  return { era: 'reject', rejection: { status, code, message, ...(data !== undefined && { data }) } };
}

function mismatch(message: string, header: string, body: string): Route {
  return reject(400, MODERN_ERRORS.HEADER_MISMATCH, `Bad Request: ${message}`, { mismatch: { header: header.slice(0, 200), body: body.slice(0, 200) } });
}

/** The first problem of a `_meta` envelope, or undefined when it is valid. Missing keys come first. */
export function envelopeIssue(meta: Record<string, unknown>): { key: string; problem: string } | undefined {
  for (const key of [META.protocolVersion, META.clientCapabilities]) if (!(key in meta)) return { key, problem: 'missing' };
  if (typeof meta[META.protocolVersion] !== 'string') return { key: META.protocolVersion, problem: 'expected a string' };
  if (!isObject(meta[META.clientCapabilities])) return { key: META.clientCapabilities, problem: 'expected an object' };
  const info = meta[META.clientInfo];
  if (info !== undefined && !(isObject(info) && typeof info.name === 'string' && typeof info.version === 'string')) {
    return { key: META.clientInfo, problem: 'expected an object with string name and version' };
  }
  const level = meta[META.logLevel];
  if (level !== undefined && !(typeof level === 'string' && LOG_LEVELS.has(level))) return { key: META.logLevel, problem: 'expected a logging level' };
  return undefined;
}

function unsupported(requested: string, where = ''): Route {
  return reject(400, MODERN_ERRORS.UNSUPPORTED_PROTOCOL_VERSION, `Unsupported protocol version: ${where}${requested.slice(0, 100)}`, {
    supported: ALL_PROTOCOL_VERSIONS,
    requested: requested.slice(0, 100),
  });
}

/**
 * An MCP-Protocol-Version header naming a revision this server does not speak answers the revision's
 * error (-32022, with the revisions it does speak), whichever era the message is in; any other header is
 * left to the message's own checks.
 */
export function headerVersionRoute(header: string | undefined): Route {
  const version = trimOws(header);
  return version === undefined || ALL_PROTOCOL_VERSIONS.includes(version) ? LEGACY : unsupported(version, 'the MCP-Protocol-Version header names ');
}

/**
 * Which era one JSON-RPC message speaks, or the revision's error for it. `headers` is given over HTTP
 * (standard-header rules apply to requests there) and omitted over stdio, where the body is all there is.
 * Anything that is not a request or notification is left to the legacy dispatcher's own errors.
 */
export function classify(message: unknown, headers?: StandardHeaders): Route {
  if (!isObject(message) || typeof message.method !== 'string') return LEGACY;
  const { method, params } = message;
  const isRequest = message.id !== undefined;
  const headerVersion = trimOws(headers?.protocolVersion);
  const headerMethod = trimOws(headers?.method);
  const headerName = trimOws(headers?.name);

  if (hasEnvelopeClaim(params)) {
    const meta = metaOf(params)!;
    const issue = envelopeIssue(meta);
    if (issue !== undefined) {
      return reject(400, -32602, `Invalid params: _meta ${issue.key}: ${issue.problem}`, { envelope: issue });
    }
    const claimed = meta[META.protocolVersion] as string;
    if (headerVersion !== undefined && headerVersion !== claimed) {
      return mismatch(`the MCP-Protocol-Version header (${headerVersion}) and _meta (${claimed}) name different revisions`, headerVersion, claimed);
    }
    if (headerMethod !== undefined && headerMethod !== method) return mismatch(`the Mcp-Method header names ${headerMethod} but the body ${method}`, headerMethod, method);
    // A legacy revision named in _meta is still legacy traffic: the revision decides, not the mechanism.
    if ((SUPPORTED_PROTOCOL_VERSIONS as readonly string[]).includes(claimed)) return LEGACY;
    if (claimed !== MODERN_PROTOCOL_VERSION) return unsupported(claimed);
    if (headers !== undefined && isRequest) {
      const problem = missingStandardHeader(method, params, headerVersion, headerMethod, headerName);
      if (problem !== undefined) return problem;
    }
    return { era: 'modern', envelope: { version: claimed, capabilities: meta[META.clientCapabilities] as Record<string, unknown> } };
  }

  const byHeader = headerVersionRoute(headerVersion);
  if (byHeader.era === 'reject') return byHeader;
  if (headerVersion !== undefined && isModernVersion(headerVersion)) {
    if (method === 'initialize') return mismatch(`initialize is the legacy handshake; it cannot carry a ${headerVersion} MCP-Protocol-Version header`, headerVersion, method);
    if (!isRequest) return LEGACY; // a notification needs no answer either way
    const meta = metaOf(params);
    const missing = meta === undefined ? ['_meta'] : [META.protocolVersion, META.clientCapabilities].filter((key) => !(key in meta));
    return reject(400, -32602, `Invalid params: the MCP-Protocol-Version header names ${headerVersion.slice(0, 100)} but the request lacks ${missing.join(', ')}`, {
      envelope: { missing },
    });
  }
  // Legacy traffic: the revision's headers are optional here, but one that contradicts the body is refused.
  if (headerMethod !== undefined && headerMethod !== method) return mismatch(`the Mcp-Method header names ${headerMethod} but the body ${method}`, headerMethod, method);
  const source = NAME_SOURCE[method];
  const bodyName = source !== undefined && isObject(params) ? params[source] : undefined;
  if (headerName !== undefined && typeof bodyName === 'string' && decodeHeaderValue(headerName) !== bodyName) {
    return mismatch(`the Mcp-Name header names ${headerName} but the body ${bodyName}`, headerName, bodyName);
  }
  return LEGACY;
}

/**
 * A modern request over HTTP must carry MCP-Protocol-Version and Mcp-Method, and Mcp-Name for the
 * methods that name something, each equal to the body.
 * https://modelcontextprotocol.io/specification/2026-07-28/basic/transports#server-validation
 */
function missingStandardHeader(method: string, params: unknown, version?: string, headerMethod?: string, headerName?: string): Route | undefined {
  if (version === undefined) return mismatch('the MCP-Protocol-Version header is required', '(missing)', MODERN_PROTOCOL_VERSION);
  if (headerMethod === undefined) return mismatch('the Mcp-Method header is required', '(missing)', method);
  const source = NAME_SOURCE[method];
  if (source === undefined) return undefined;
  const bodyName = isObject(params) ? params[source] : undefined;
  if (typeof bodyName !== 'string') return undefined; // the dispatcher reports the bad params
  if (headerName === undefined) return mismatch(`the Mcp-Name header is required for ${method}`, '(missing)', bodyName);
  const decoded = decodeHeaderValue(headerName);
  if (decoded === undefined) return mismatch('the Mcp-Name header holds invalid Base64', headerName, bodyName);
  if (decoded !== bodyName) return mismatch(`the Mcp-Name header names ${decoded} but the body ${bodyName}`, headerName, bodyName);
  return undefined;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Header values outside visible ASCII travel as `=?base64?…?=`; anything else is literal. */
export function decodeHeaderValue(value: string): string | undefined {
  if (!(value.startsWith('=?base64?') && value.endsWith('?='))) return value;
  const b64 = value.slice(9, -2);
  if (!BASE64.test(b64)) return undefined;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(b64, 'base64'));
  } catch {
    return undefined;
  }
}

/** A batch may not hold modern messages (the revision has no batches). */
export function batchHasModern(batch: readonly unknown[]): boolean {
  return batch.some((m) => isObject(m) && hasEnvelopeClaim(m.params));
}

/** The HTTP status of a modern answer: the revision maps method-not-found to 404 and its own errors to 400. */
export function modernStatus(error: { code: number } | undefined): number {
  if (error === undefined) return 200;
  if (error.code === -32601) return 404;
  if (error.code === MODERN_ERRORS.MISSING_CLIENT_CAPABILITY) return 400;
  return 200;
}
