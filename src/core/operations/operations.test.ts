import { describe, expect, it } from 'vitest';
import { PERMISSIONS } from '../model.js';
import { OPERATIONS, operationList } from './index.js';

describe('the operations table', () => {
  it('asks keys:write of every operation that changes keys, and no more than keys:read of the others', () => {
    // MCP tool visibility (src/mcp/protocol.ts) and read-only servers rely on this.
    for (const [name, operation] of operationList()) {
      if (operation.write) expect(operation.permission, name).toBe(PERMISSIONS.write);
      else expect([PERMISSIONS.read, null], name).toContain(operation.permission);
    }
  });

  it('gives every operation one MCP tool name and REST routes of its own', () => {
    const tools = operationList().map(([, o]) => o.tool.name);
    expect(new Set(tools).size).toBe(tools.length);
    const routes = operationList().flatMap(([, o]) => o.rest.map((r) => `${r.method} ${r.path}`));
    expect(new Set(routes).size).toBe(routes.length);
    const ids = operationList().flatMap(([, o]) => o.rest.map((r) => r.operationId));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('maps each REST answer back to the result it came from', () => {
    const key = { id: 'key_a' };
    const created = { key, secret: 'pk_live_x' };
    const generate = OPERATIONS.generateKey.rest[0];
    expect(generate.fromRest!(generate.toRest!(created as never))).toEqual(created);
    const list = OPERATIONS.listKeys.rest[0];
    const page = { keys: [key], next_cursor: null };
    expect(list.fromRest!(list.toRest!(page as never))).toEqual(page);
  });
});
