import { z } from 'zod';
import type { ConfirmRule } from '../core/operation.js';
import { type OperationName, operationList } from '../core/operations/index.js';
import { Reveal, SecretDelivery } from '../core/schemas.js';
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
  /** The operation's own input (the tool's, less secret_delivery). */
  operationInput: z.ZodType;
  confirm?: ConfirmRule<unknown>;
  /** Its result holds a secret, which may go out by reveal instead (secret_delivery). */
  secret: boolean;
}

/**
 * A tool whose result holds a secret takes secret_delivery, and its result holds either the secret
 * or a reveal; the operation (REST, remote mode) knows neither: the MCP runner handles both.
 */
function withDelivery(input: z.ZodType, output: z.ZodType): { input: z.ZodType; output: z.ZodType } {
  const inputObject = input as z.ZodObject;
  const outputObject = output as z.ZodObject;
  const secret = (outputObject.shape.secret as z.ZodType).optional();
  return {
    input: inputObject.extend({ secret_delivery: SecretDelivery.optional() }),
    output: outputObject.extend({ secret, reveal: Reveal.optional() }),
  };
}

/** Every operation's tool, in the table's order. readOnlyHint follows from the operation's `write`. */
export const TOOLS: readonly Tool[] = operationList().map(([operation, { tool, input, output, write, confirm, secret }]) => ({
  name: tool.name,
  title: tool.title,
  description: tool.description,
  ...(secret ? withDelivery(input, output) : { input, output }),
  operationInput: input,
  ...(confirm !== undefined && { confirm: confirm as ConfirmRule<unknown> }),
  secret: secret === true,
  annotations: write
    ? { readOnlyHint: false, destructiveHint: tool.destructive ?? false, idempotentHint: tool.idempotent ?? false, openWorldHint: false }
    : { readOnlyHint: true, openWorldHint: false },
  operation,
}));

/** Tools that ask the human whatever their arguments: hidden from clients that cannot ask under --confirm required. */
export const ALWAYS_CONFIRMED: ReadonlySet<string> = new Set(TOOLS.filter((tool) => tool.confirm !== undefined && tool.confirm.when === undefined).map((tool) => tool.name));

/** Whether this call asks the human before it runs, when the client can: a tool with a confirm rule that these arguments meet. */
export function asksFirst(name: string, args: unknown): boolean {
  const rule = TOOLS.find((tool) => tool.name === name)?.confirm;
  if (rule === undefined) return false;
  if (rule.when === undefined) return true;
  const parsed = TOOLS.find((tool) => tool.name === name)!.operationInput.safeParse(args ?? {});
  return parsed.success && rule.when(parsed.data);
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


