import { DisperslError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { ALL_PROTOCOL_VERSIONS, type Envelope, META, modernStatus } from './eras.js';
import { type Human, INSTRUCTIONS, InputRequired, JSONRPC, type JsonRpcId, type McpContext, type McpDispatcher, RpcError } from './protocol.js';
import type { RequestStates } from './request-state.js';

/**
 * The 2026-07-28 (stateless) revision's methods, over the same tools and per-request context as the
 * legacy dispatcher. There is no initialize, ping or logging/setLevel here: they answer method-not-found
 * (HTTP 404), as the revision's removed methods must. Results carry `resultType`; lists carry caching
 * hints.
 * https://modelcontextprotocol.io/specification/2026-07-28/server/discover
 */

/**
 * tools/list is computed per caller (read-only mode, the key's permissions): a shared cache must not
 * serve one key's list to another, hence "private". A key's permissions never change, but a client
 * should still notice a new server version's tools within a minute.
 * https://modelcontextprotocol.io/specification/2026-07-28/server/utilities/caching
 */
export const TOOLS_LIST_CACHE = { ttlMs: 60_000, cacheScope: 'private' } as const;
/** server/discover says the same to every caller (versions, capabilities, instructions). */
export const DISCOVER_CACHE = { ttlMs: 3_600_000, cacheScope: 'public' } as const;

export type ModernResponse =
  | { jsonrpc: '2.0'; id: JsonRpcId; result: Record<string, unknown> }
  | { jsonrpc: '2.0'; id?: JsonRpcId; error: { code: number; message: string; data?: unknown } };

export interface ModernOptions {
  dispatcher: McpDispatcher;
  /** Seals and opens requestState; without it a tool that asks is answered with an error. */
  states?: RequestStates;
  logger: Logger;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isId(value: unknown): value is JsonRpcId {
  return typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value));
}

/** The revision's error shape: the request's id when it has one, and no `id: null` ever (its schema forbids it). */
export function modernError(id: unknown, code: number, message: string, data?: unknown): ModernResponse {
  return { jsonrpc: '2.0', ...(isId(id) && { id }), error: { code, message, ...(data !== undefined && { data }) } };
}

/** A tools/call's requestState that did not open: the contract's INVALID_REQUEST as JSON-RPC invalid params. */
const STATE_REFUSED: Record<string, string> = {
  malformed: 'requestState is not one this server issued',
  forged: 'requestState is not one this server issued',
  expired: 'requestState has expired; call the tool again without it',
  foreign: 'requestState was issued for another key, tool or arguments',
  replayed: 'requestState was already used; call the tool again without it',
};

export class ModernDispatcher {
  constructor(private readonly options: ModernOptions) {}

  /** One classified 2026-07-28 message in; its answer (none for a notification) and the HTTP status for it. */
  async handle(message: Record<string, unknown>, envelope: Envelope, context: McpContext): Promise<{ response?: ModernResponse; status: number }> {
    const { id, method } = message;
    if (id === undefined) return { status: 202 };
    if (!isId(id)) return { response: modernError(undefined, JSONRPC.INVALID_REQUEST, 'Invalid Request: id must be a string or a number'), status: 400 };
    const params = message.params as Record<string, unknown>;
    try {
      const result = await this.dispatch(method as string, params, envelope, { ...context, human: humanOf(envelope) });
      return { response: { jsonrpc: '2.0', id, result }, status: 200 };
    } catch (err) {
      const response =
        err instanceof RpcError
          ? modernError(id, err.code, err.message, err.data)
          : (this.options.logger.error('mcp request failed', { method, error: String(err) }), modernError(id, JSONRPC.INTERNAL_ERROR, 'Internal error'));
      return { response, status: modernStatus('error' in response ? response.error : undefined) };
    }
  }

  private async dispatch(method: string, params: Record<string, unknown>, envelope: Envelope, context: McpContext): Promise<Record<string, unknown>> {
    switch (method) {
      case 'server/discover':
        // Free, like tools/list: the transport has already checked the key.
        return {
          resultType: 'complete',
          supportedVersions: ALL_PROTOCOL_VERSIONS,
          capabilities: { tools: { listChanged: false } },
          instructions: INSTRUCTIONS,
          ...DISCOVER_CACHE,
          _meta: { [META.serverInfo]: { name: 'dispersl-mcp', title: 'Dispersl API keys', version: this.options.dispatcher.version } },
        };
      case 'tools/list':
        return { resultType: 'complete', tools: await this.options.dispatcher.tools(context), ...TOOLS_LIST_CACHE };
      case 'tools/call':
        return this.callTool(params, envelope, context);
      default:
        throw new RpcError(JSONRPC.METHOD_NOT_FOUND, `Method not found: ${method.slice(0, 100)}`);
    }
  }

  private async callTool(params: Record<string, unknown>, envelope: Envelope, context: McpContext): Promise<Record<string, unknown>> {
    const { name, arguments: args, requestState, inputResponses } = params;
    if (inputResponses !== undefined && !isObject(inputResponses)) throw new RpcError(JSONRPC.INVALID_PARAMS, 'Invalid params: inputResponses must be an object');
    const binding = { principal: context.principal ?? '', tool: String(name), args: args ?? {} };
    let round: { state: unknown; inputResponses: Record<string, unknown> } | undefined;
    if (requestState !== undefined) {
      // Checked before the tool runs, so a refused state never reaches a tool (nor is charged twice).
      const opened = (await this.options.states?.open(requestState, binding)) ?? { ok: false as const, reason: 'forged' as const };
      if (!opened.ok) {
        const error = new DisperslError('INVALID_REQUEST', `Invalid requestState: ${STATE_REFUSED[opened.reason]}`);
        throw new RpcError(JSONRPC.INVALID_PARAMS, error.message, error.toEnvelope().error);
      }
      round = { state: opened.state, inputResponses: inputResponses ?? {} };
    }
    const answer = await this.options.dispatcher.callTool(params, context, round);
    if (answer instanceof InputRequired) {
      const states = this.options.states;
      if (states === undefined) throw new RpcError(JSONRPC.INTERNAL_ERROR, 'Internal error');
      for (const request of Object.values(answer.inputRequests)) {
        const needed = isObject(request) && typeof request.method === 'string' ? capabilityFor(request.method) : undefined;
        if (needed !== undefined && !isObject(envelope.capabilities[needed])) {
          throw new RpcError(-32021, `Missing required client capability: ${needed}`, { requiredCapabilities: { [needed]: {} } });
        }
      }
      return { resultType: 'input_required', inputRequests: answer.inputRequests, requestState: await states.seal(binding, answer.state) };
    }
    return { resultType: 'complete', ...answer };
  }
}

/**
 * What a 2026-07-28 request's client can show its user: `elicitation: {}` means form only, as in
 * the revision's schema; the answers come back in the next round, so there is no `elicit` here.
 */
export function humanOf(envelope: Envelope): Human {
  const elicitation = envelope.capabilities.elicitation;
  if (!isObject(elicitation)) return { form: false, url: false };
  return { form: Object.keys(elicitation).length === 0 || isObject(elicitation.form), url: isObject(elicitation.url) };
}

/** The client capability an input request needs (elicitation/create needs elicitation, …). */
function capabilityFor(method: string): string | undefined {
  if (method === 'elicitation/create') return 'elicitation';
  if (method === 'sampling/createMessage') return 'sampling';
  if (method === 'roots/list') return 'roots';
  return undefined;
}
