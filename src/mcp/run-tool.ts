import type { KeyApi } from '../core/api.js';
import { asDisperslError, causeOf } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { SealSecret } from '../core/service.js';
import { confirmFirst } from './confirm.js';
import { type RevealDesk, type SecretDelivery, deliverByReveal, revealedResult, splitDelivery } from './deliver.js';
import { type ConfirmPolicy, type Human, InputRequired, type Round, type ToolResult, type ToolRunner } from './protocol.js';
import { TOOLS } from './tool.js';

export interface RunnerOptions {
  logger: Logger;
  /** Added to a MISSING_API_KEY error, so the user learns how to give a key on this transport. */
  missingKeyHint?: string;
  /** --confirm (default auto). */
  confirm?: ConfirmPolicy;
  /** --secret-delivery (default inline). */
  secretDelivery?: SecretDelivery;
  /** Where secrets delivered by reveal wait; without it, reveal is refused. */
  reveals?: RevealDesk;
}

/** Results carry the JSON twice, as MCP asks: structured, and as text for clients that read only text. */
export function createToolRunner({ logger, missingKeyHint, confirm = 'auto', secretDelivery = 'inline', reveals }: RunnerOptions): ToolRunner {
  const byName = new Map(TOOLS.map((tool) => [tool.name, tool]));
  const ok = (result: Record<string, unknown>): ToolResult => ({ content: [{ type: 'text', text: JSON.stringify(result) }], structuredContent: result });
  return async (name: string, api: KeyApi, args: unknown, round?: Round, human?: Human): Promise<ToolResult | InputRequired> => {
    const tool = byName.get(name)!;
    const started = performance.now();
    try {
      // The round after a URL elicitation: the key exists already; the held-back result (no secret, no code) is the answer.
      const held = round === undefined ? undefined : revealedResult(round.state);
      if (held !== undefined) return ok(held);
      const { delivery, input } = tool.secret ? splitDelivery(secretDelivery, args) : { delivery: 'inline' as const, input: args };
      const asked = await confirmFirst(confirm, tool, api, input, round, human);
      if (asked instanceof InputRequired) {
        logger.info('tool call', { tool: name, outcome: 'confirmation_asked', ms: Math.round(performance.now() - started) });
        return asked;
      }
      const call = (reveal?: SealSecret) => api.call(tool.operation, input, reveal) as Promise<Record<string, unknown>>;
      const result = tool.secret && delivery === 'reveal' ? await deliverByReveal(call, reveals, human) : await call();
      if (result instanceof InputRequired) return result;
      logger.info('tool call', { tool: name, outcome: 'ok', ms: Math.round(performance.now() - started) });
      return ok(result);
    } catch (err) {
      const error = asDisperslError(err);
      if (error.type === 'INTERNAL_ERROR') logger.error('tool call failed', { tool: name, ...causeOf(err) });
      else logger.info('tool call', { tool: name, outcome: error.type, ms: Math.round(performance.now() - started) });
      const envelope = error.toEnvelope();
      if (error.type === 'MISSING_API_KEY' && missingKeyHint) envelope.error.details = { ...envelope.error.details, hint: missingKeyHint };
      return { isError: true, content: [{ type: 'text', text: JSON.stringify(envelope) }] };
    }
  };
}
