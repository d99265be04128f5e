import { z } from 'zod';
import { type OperationName, operationList } from '../core/operations/index.js';
import type { ToolDescription } from './snapshot.js';

/** One MCP tool: an operation as a model reads it (name, description, schemas, annotations). */
export interface Tool {
  name: string;
  title: string;
  description: string;
  input: z.ZodType;
  output: z.ZodType;
  annotations: ToolDescription['annotations'];
  operation: OperationName;
}

/** Every operation's tool, in the table's order. readOnlyHint follows from the operation's `write`. */
export const TOOLS: readonly Tool[] = operationList().map(([operation, { tool, input, output, write }]) => ({
  name: tool.name,
  title: tool.title,
  description: tool.description,
  input,
  output,
  annotations: write
    ? { readOnlyHint: false, destructiveHint: tool.destructive ?? false, idempotentHint: tool.idempotent ?? false, openWorldHint: false }
    : { readOnlyHint: true, openWorldHint: false },
  operation,
}));

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


