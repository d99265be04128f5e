import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/remote.js';

/**
 * server.json describes this server to the MCP registry (schema 2025-12-11): the npm package over
 * stdio and the remote forms of a self-hosted `serve`. The registry's schema ships in no npm package,
 * so its required fields and rules are checked here, and the file against package.json, which the
 * registry reads back from npm (`mcpName`) to tie the package to the name.
 */

const SCHEMA = 'https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json';

interface Input {
  description?: string;
  isRequired?: boolean;
  isSecret?: boolean;
  value?: string;
  variables?: Record<string, Input>;
}
interface KeyValue extends Input {
  name: string;
}
interface ServerJson {
  $schema: string;
  name: string;
  title?: string;
  description: string;
  version: string;
  packages?: Array<{ registryType: string; registryBaseUrl?: string; identifier: string; version?: string; runtimeHint?: string; transport: { type: string }; environmentVariables?: KeyValue[] }>;
  remotes?: Array<{ type: string; url: string; variables?: Record<string, Input>; headers?: KeyValue[] }>;
}

const server = JSON.parse(readFileSync(join(ROOT, 'server.json'), 'utf8')) as ServerJson;
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string; mcpName?: string };
const configSource = readFileSync(join(ROOT, 'src/cli/config.ts'), 'utf8');
const readByCli = new Set([...configSource.matchAll(/env\.(DISPERSL_[A-Z_]+)/g)].map((m) => m[1]!));

/** `{name}` placeholders in a template. */
const placeholders = (template: string) => [...template.matchAll(/\{([^{}]+)\}/g)].map((m) => m[1]!);

describe('server.json (MCP registry)', () => {
  it('follows the registry schema of 2025-12-11: its fields, name pattern and limits', () => {
    expect(server.$schema).toBe(SCHEMA);
    expect(Object.keys(server).every((k) => ['$schema', 'name', 'title', 'description', 'version', 'websiteUrl', 'repository', 'packages', 'remotes', 'icons', '_meta'].includes(k))).toBe(true);
    expect(server.name).toMatch(/^[a-zA-Z0-9.-]+\/[a-zA-Z0-9._-]+$/);
    expect(server.name.length).toBeLessThanOrEqual(200);
    expect(server.description.length).toBeGreaterThan(0);
    expect(server.description.length).toBeLessThanOrEqual(100);
    expect(server.version).toMatch(/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/);
  });

  it('names the npm package, its version and name exactly as package.json does', () => {
    expect(pkg.mcpName).toBe(server.name);
    expect(server.version).toBe(pkg.version);
    expect(server.packages).toEqual([
      expect.objectContaining({ registryType: 'npm', registryBaseUrl: 'https://registry.npmjs.org', identifier: pkg.name, version: pkg.version, runtimeHint: 'npx', transport: { type: 'stdio' } }),
    ]);
  });

  it('declares the stdio server’s settings: the key as a required secret, remote mode, the database, all read by the CLI', () => {
    const vars = server.packages![0]!.environmentVariables!;
    expect(vars.find((v) => v.name === 'DISPERSL_API_KEY')).toMatchObject({ isRequired: true, isSecret: true });
    expect(vars.find((v) => v.name === 'DISPERSL_BASE_URL')).toMatchObject({ isRequired: false, isSecret: false });
    for (const v of vars) {
      expect(readByCli.has(v.name), v.name).toBe(true);
      expect(v.description?.length, v.name).toBeGreaterThan(0);
    }
  });

  it('describes the remote forms: Streamable HTTP at /mcp and /mcp/readonly, with the key as a secret header', () => {
    const remotes = server.remotes!;
    expect(remotes.map((r) => [r.type, new URL(r.url.replace('{host}', 'example.com')).pathname])).toEqual([
      ['streamable-http', '/mcp'],
      ['streamable-http', '/mcp/readonly'],
    ]);
    for (const remote of remotes) {
      expect(remote.url).toMatch(/^https:\/\//);
      for (const name of placeholders(remote.url)) expect(remote.variables?.[name], `${remote.url}: {${name}}`).toMatchObject({ isRequired: true });
      expect(remote.headers).toEqual([expect.objectContaining({ name: 'Authorization', isRequired: true, isSecret: true })]);
      for (const header of remote.headers!) {
        expect(header.value).toBe('Bearer {api_key}');
        for (const name of placeholders(header.value!)) expect(header.variables?.[name], `${header.name}: {${name}}`).toMatchObject({ isSecret: true });
      }
    }
  });

  it('holds no key', () => {
    expect(JSON.stringify(server)).not.toMatch(/pk_(live|test)_[0-9A-Za-z]{4,}/);
  });
});
