import { createRequire } from 'node:module';

/** A tool exactly as tools/list shows it to a model. */
export interface ToolDescription {
  name: string;
  title: string;
  description: string;
  inputSchema: { type: 'object'; [key: string]: unknown };
  outputSchema: { type: 'object'; [key: string]: unknown };
  annotations: { title?: string; readOnlyHint?: boolean; destructiveHint?: boolean; idempotentHint?: boolean; openWorldHint?: boolean };
}

export const SNAPSHOT_PATH = '../../toolsnaps/tools.json';

/**
 * The committed definitions of the tools (toolsnaps/tools.json), which a test keeps equal to the
 * zod definitions in tools/. Serving them as data keeps zod off the start-up path, and any change
 * to what the model sees shows up in review as a diff of that file.
 */
export const SNAPSHOT: readonly ToolDescription[] = createRequire(import.meta.url)(SNAPSHOT_PATH) as ToolDescription[];
