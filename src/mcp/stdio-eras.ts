import { MODERN_ERRORS, MODERN_PROTOCOL_VERSION, classify } from './eras.js';
import { type ModernDispatcher, modernError } from './modern.js';
import { type JsonRpcResponse, type McpContext, type McpDispatcher, SUPPORTED_PROTOCOL_VERSIONS } from './protocol.js';

/**
 * Over stdio the era belongs to the connection: the first `initialize` pins it to the revision it
 * negotiates, the first 2026-07-28 request (other than a server/discover probe) pins it to that one,
 * and from then on a message of the other era is answered with the unsupported-version error naming
 * what this connection speaks, as the SDK v2's stdio entry does. There are no headers here: the body
 * is the only signal.
 * https://modelcontextprotocol.io/specification/2026-07-28/basic/transports#stdio
 */
export class StdioEras {
  private pinned: { era: 'legacy'; version: string } | { era: 'modern' } | undefined;

  constructor(
    private readonly dispatcher: McpDispatcher,
    private readonly modern: ModernDispatcher,
  ) {}

  async handle(message: unknown, context: McpContext): Promise<unknown> {
    const route = classify(message);
    if (route.era === 'legacy') return this.legacy(message, context);
    const { id } = message as Record<string, unknown>;
    if (id === undefined) return undefined; // a notification is never answered, even with an error
    if (route.era === 'reject') return modernError(id, route.rejection.code, route.rejection.message, route.rejection.data);
    if (this.pinned?.era === 'legacy') {
      return modernError(id, MODERN_ERRORS.UNSUPPORTED_PROTOCOL_VERSION, `Unsupported protocol version: this connection speaks ${this.pinned.version}, negotiated by initialize; start a new connection for ${MODERN_PROTOCOL_VERSION}`, {
        supported: [this.pinned.version],
        requested: MODERN_PROTOCOL_VERSION,
      });
    }
    const message_ = message as Record<string, unknown>;
    if (message_.method !== 'server/discover') this.pinned = { era: 'modern' };
    return (await this.modern.handle(message_, route.envelope, context)).response;
  }

  private async legacy(message: unknown, context: McpContext): Promise<unknown> {
    const m = typeof message === 'object' && message !== null && !Array.isArray(message) ? (message as Record<string, unknown>) : undefined;
    if (this.pinned?.era === 'modern' && m !== undefined && typeof m.method === 'string') {
      if (m.id === undefined) return undefined;
      if (m.method === 'initialize') {
        const params = m.params as Record<string, unknown> | undefined;
        const requested = typeof params?.protocolVersion === 'string' ? params.protocolVersion.slice(0, 100) : 'unknown';
        return modernError(m.id, MODERN_ERRORS.UNSUPPORTED_PROTOCOL_VERSION, `Unsupported protocol version: this connection speaks ${MODERN_PROTOCOL_VERSION}; start a new connection to use initialize`, {
          supported: [MODERN_PROTOCOL_VERSION],
          requested,
        });
      }
      return modernError(m.id, -32602, `Invalid params: this connection speaks ${MODERN_PROTOCOL_VERSION}; every request needs _meta with io.modelcontextprotocol/protocolVersion and clientCapabilities`, {
        envelope: { missing: ['_meta'] },
      });
    }
    const answer: JsonRpcResponse | undefined = await this.dispatcher.handle(message, context);
    if (m?.method === 'initialize' && answer !== undefined && 'result' in answer) {
      const version = answer.result.protocolVersion;
      this.pinned = { era: 'legacy', version: typeof version === 'string' ? version : SUPPORTED_PROTOCOL_VERSIONS[0] };
    }
    return answer;
  }
}
