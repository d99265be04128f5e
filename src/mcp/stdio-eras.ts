import { MODERN_ERRORS, MODERN_PROTOCOL_VERSION, classify } from './eras.js';
import { type ModernDispatcher, modernError } from './modern.js';
import { Outbound } from './outbound.js';
import { type Human, type JsonRpcResponse, type McpContext, type McpDispatcher, SUPPORTED_PROTOCOL_VERSIONS } from './protocol.js';

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

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
  /** On earlier revisions, what the client declared at initialize it can show its user, and how to ask it. */
  private human: Human | undefined;
  private readonly outbound = new Outbound();

  constructor(
    private readonly dispatcher: McpDispatcher,
    private readonly modern: ModernDispatcher,
  ) {}

  connect(send: (message: unknown) => void): void {
    this.outbound.connect(send);
  }

  disconnect(): void {
    this.outbound.close();
  }

  async handle(message: unknown, context: McpContext): Promise<unknown> {
    if (this.outbound.settle(message)) return undefined;
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
    const answer: JsonRpcResponse | undefined = await this.dispatcher.handle(message, this.human === undefined ? context : { ...context, human: this.human });
    if (m?.method === 'initialize' && answer !== undefined && 'result' in answer) {
      const version = answer.result.protocolVersion;
      this.pinned = { era: 'legacy', version: typeof version === 'string' ? version : SUPPORTED_PROTOCOL_VERSIONS[0] };
      this.human = this.humanOf(m.params);
    }
    return answer;
  }

  /** initialize's elicitation capability: `{}` means form only. Earlier revisions ask by a request of the server's own. */
  private humanOf(params: unknown): Human | undefined {
    const capabilities = isObject(params) && isObject(params.capabilities) ? params.capabilities : undefined;
    const elicitation = capabilities?.elicitation;
    if (!isObject(elicitation)) return undefined;
    return {
      form: Object.keys(elicitation).length === 0 || isObject(elicitation.form),
      // URL elicitation on earlier revisions needs elicitation ids and completion notices: links go in the result there.
      url: false,
      elicit: (form) => this.outbound.request('elicitation/create', form),
    };
  }
}
