import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SNAPSHOT_PATH } from './snapshot.js';
import { TOOLS, describeTool } from './tool.js';

const snapshotFile = fileURLToPath(new URL(SNAPSHOT_PATH, import.meta.url));

describe('tool definitions', () => {
  const described = TOOLS.map(describeTool);

  it('match the committed snapshot (UPDATE_TOOLSNAPS=1 npm test rewrites it)', () => {
    const text = `${JSON.stringify(described, null, 2)}\n`;
    if (process.env.UPDATE_TOOLSNAPS === '1') writeFileSync(snapshotFile, text);
    expect(readFileSync(snapshotFile, 'utf8')).toBe(text);
  });

  it('are the tools of the contract, each named after what it does, with no verify tool (a user secret stays out of the model)', () => {
    expect(TOOLS.map((t) => t.name)).toEqual(['list_keys', 'get_key', 'generate_key', 'revoke_key', 'rotate_key', 'update_key', 'whoami', 'get_usage', 'list_events']);
  });

  it('carry honest annotations', () => {
    const byName = Object.fromEntries(TOOLS.map((t) => [t.name, t.annotations]));
    for (const read of ['list_keys', 'get_key', 'whoami', 'get_usage', 'list_events']) expect(byName[read]?.readOnlyHint).toBe(true);
    for (const write of ['generate_key', 'revoke_key', 'rotate_key', 'update_key']) expect(byName[write]?.readOnlyHint).toBe(false);
    expect(byName.revoke_key).toMatchObject({ destructiveHint: true, idempotentHint: true });
    expect(byName.rotate_key).toMatchObject({ destructiveHint: true });
    expect(byName.generate_key).toMatchObject({ destructiveHint: false });
  });

  it('take a key as id and describe every input field for the model', () => {
    for (const tool of described) {
      expect(tool.inputSchema.type).toBe('object');
      expect(tool.outputSchema.type).toBe('object');
      expect(tool.description.length).toBeGreaterThan(80);
      const properties = (tool.inputSchema.properties ?? {}) as Record<string, { description?: string }>;
      for (const [field, schema] of Object.entries(properties)) expect(schema.description, `${tool.name}.${field}`).toBeTruthy();
      if (['get_key', 'revoke_key', 'rotate_key', 'update_key'].includes(tool.name)) expect(tool.inputSchema.required).toContain('id');
    }
  });
});
