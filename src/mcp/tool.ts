import { z } from 'zod';
import type { KeyApi } from '../core/api.js';
import type { InputRequired, Round } from './protocol.js';
import type { ToolDescription } from './snapshot.js';

type ToolAnnotations = ToolDescription['annotations'];

/** One MCP tool: what the model reads (name, description, schemas, annotations) and what it runs. */
export interface Tool {
  name: string;
  title: string;
  description: string;
  input: z.ZodType;
  output: z.ZodType;
  annotations: ToolAnnotations;
  /** `round` holds the answers when a 2026-07-28 client calls again after the tool asked (InputRequired). */
  call(api: KeyApi, args: unknown, round?: Round): Promise<unknown>;
}

export function defineTool<I extends z.ZodType, O extends z.ZodType>(tool: {
  name: string;
  title: string;
  description: string;
  input: I;
  output: O;
  annotations: ToolAnnotations;
  call(api: KeyApi, args: unknown, round?: Round): Promise<z.output<O> | InputRequired>;
}): Tool {
  return tool;
}

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
}

/** The tool as tools/list shows it. */
export function describeTool(tool: Tool): ToolDescription {
  return {
    name: tool.name,
    title: tool.title,
    description: tool.description,
    inputSchema: jsonSchema(tool.input, 'input') as { type: 'object'; [k: string]: unknown },
    outputSchema: jsonSchema(tool.output, 'output') as { type: 'object'; [k: string]: unknown },
    annotations: { title: tool.title, ...tool.annotations },
  };
}
