import { type SpecTypeName, specTypeSchemas } from '@modelcontextprotocol/client';

/** Whether a value is a valid `name` by the MCP SDK v2's published protocol schemas; the issues when not. */
export function specIssues(name: SpecTypeName, value: unknown): string | undefined {
  const result = specTypeSchemas[name]['~standard'].validate(value);
  if (result instanceof Promise) throw new Error(`${name} validates asynchronously`);
  return result.issues === undefined ? undefined : JSON.stringify(result.issues).slice(0, 500);
}
