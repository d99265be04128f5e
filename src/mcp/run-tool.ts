import type { KeyApi } from '../core/api.js';
import { asDisperslError, causeOf } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { ToolResult, ToolRunner } from './protocol.js';
import { TOOLS } from './tool.js';

export interface RunnerOptions {
  logger: Logger;
  /** Added to a MISSING_API_KEY error, so the user learns how to give a key on this transport. */
  missingKeyHint?: string;
}

/** Results carry the JSON twice, as MCP asks: structured, and as text for clients that read only text. */
export function createToolRunner({ logger, missingKeyHint }: RunnerOptions): ToolRunner {
  const byName = new Map(TOOLS.map((tool) => [tool.name, tool]));
  // No operation asks the human yet: a runner that needs to takes the round (answers to what it asked) as a fourth argument.
  return async (name: string, api: KeyApi, args: unknown): Promise<ToolResult> => {
    const tool = byName.get(name)!;
    const started = performance.now();
    try {
      const result = (await api.call(tool.operation, args)) as Record<string, unknown>;
      logger.info('tool call', { tool: name, outcome: 'ok', ms: Math.round(performance.now() - started) });
      return { content: [{ type: 'text', text: JSON.stringify(result) }], structuredContent: result };
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
