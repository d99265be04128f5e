import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_TYPES, isErrorType, statusOf } from '../src/core/errors.js';
import { ROUTES } from '../src/http/routes/index.js';
// @ts-expect-error: a plain .mjs script without type declarations
import { END, START, withToolsTable } from '../scripts/readme-tools.mjs';
import { ROOT } from './helpers/remote.js';

/**
 * The README ships in the package and is all a newcomer reads, so what it states is checked against
 * the code: the tool table, the REST routes, the error types, the settings and every client config.
 */

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const tools = JSON.parse(readFileSync(join(ROOT, 'toolsnaps/tools.json'), 'utf8')) as Array<{ name: string }>;
const example = JSON.parse(readFileSync(join(ROOT, 'mcp.example.json'), 'utf8')) as { mcpServers: Record<string, unknown> };

/** The rows of the markdown table that follows `heading`, split into trimmed cells. */
function tableAfter(heading: string): string[][] {
  const start = readme.indexOf(`\n${heading}\n`);
  expect(start, heading).toBeGreaterThan(-1);
  const lines = readme.slice(start).split('\n');
  const first = lines.findIndex((line) => line.startsWith('|'));
  const rows: string[][] = [];
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(line.split(/(?<!\\)\|/).slice(1, -1).map((cell) => cell.trim()));
  }
  return rows;
}

describe('README', () => {
  it('has the tool table generated from toolsnaps/tools.json (npm run readme:tools rewrites it)', () => {
    expect(readme).toContain(START);
    expect(readme).toBe(withToolsTable(readme, tools));
    const table = readme.slice(readme.indexOf(START), readme.indexOf(END));
    for (const tool of tools) expect(table).toContain(`| \`${tool.name}\` |`);
  });

  it('lists exactly the REST routes the server has', () => {
    const documented = tableAfter('## REST API').map((row) => row[0]!.replace(/`/g, '').replace(/\?.*$/, ''));
    const served = ROUTES.map((route) => `${route.method} ${route.path.replace(/:(\w+)/g, '{$1}')}`);
    expect([...documented].sort()).toEqual([...served].sort());
  });

  it('lists every error type with its status code', () => {
    const all = ERROR_TYPES;
    const documented = tableAfter('## Errors').flatMap((row) => row[0]!.split(',').map((type) => ({ type: type.replace(/`/g, '').trim(), code: Number(row[1]) })));
    for (const { type, code } of documented) {
      expect(isErrorType(type), type).toBe(true);
      if (isErrorType(type)) expect(code, type).toBe(statusOf(type));
    }
    expect(documented.map((d) => d.type).sort()).toEqual([...all].sort());
  });

  it('documents every environment variable the CLI reads, and no other', () => {
    const config = readFileSync(join(ROOT, 'src/cli/config.ts'), 'utf8');
    const read = new Set([...config.matchAll(/env\.(DISPERSL_[A-Z_]+)/g)].map((m) => m[1]));
    const documented = new Set(tableAfter('## Configuration').flatMap((row) => [...row[0]!.matchAll(/`(DISPERSL_[A-Z_]+)/g)].map((m) => m[1])));
    expect([...documented].sort()).toEqual([...read].sort());
    const mentioned = new Set([...readme.matchAll(/DISPERSL_[A-Z_]+[A-Z]/g)].map((m) => m[0]));
    for (const name of mentioned) expect(read.has(name), name).toBe(true);
  });

  it('shows only client configs that mcp.example.json holds, so each is tested', () => {
    const blocks = [...readme.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1]!);
    let configs = 0;
    for (const block of blocks) {
      const parsed = JSON.parse(block) as { mcpServers?: Record<string, unknown> };
      for (const entry of Object.values(parsed.mcpServers ?? {})) {
        configs++;
        expect(Object.values(example.mcpServers), JSON.stringify(entry)).toContainEqual(entry);
      }
    }
    expect(configs).toBeGreaterThanOrEqual(6);
  });

  it('links only files that exist', () => {
    for (const [, target] of readme.matchAll(/\]\(((?!https?:|#)[^)]+)\)/g)) expect(() => readFileSync(join(ROOT, target!)), target).not.toThrow();
  });
});

describe('package.json', () => {
  it("decides (npm 11 allowScripts) the install script of every dependency that has one, and nothing else: approved unless it does nothing here", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { allowScripts?: Record<string, boolean> };
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { hasInstallScript?: boolean; optional?: boolean; os?: string[] }> };
    const withScripts = new Set(
      Object.entries(lock.packages)
        .filter(([path, entry]) => path.startsWith('node_modules/') && entry.hasInstallScript === true)
        .map(([path]) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length)),
    );
    expect([...withScripts]).toContain('better-sqlite3');
    // The Inspector's postinstall installs its clients' dependencies in a source checkout of it and
    // exits at once when installed as a dependency, so it is denied rather than run.
    const denied = new Set(['@modelcontextprotocol/inspector']);
    expect(pkg.allowScripts).toEqual(Object.fromEntries([...withScripts].sort().map((name) => [name, !denied.has(name)])));
  });
});
