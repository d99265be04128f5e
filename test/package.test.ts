import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, sep } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, type StdioServer, baseEnv, call, init, stdio, tempHome } from './helpers/remote.js';

/**
 * The npm package as a user gets it: `npm pack`, installed into a fresh folder, started through
 * npx and driven by the MCP SDK client over stdio. The install gets better-sqlite3's binary from
 * this clone's own build (see reuseBuild), or builds it, which takes a minute or two.
 */

const INSTALL_TIMEOUT_MS = 540_000;
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  bin: Record<string, string>;
  engines: { node: string };
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

const home = tempHome('package');
const app = join(home.dir, 'app');
let packed: { filename: string; files: Array<{ path: string; mode: number }> };
let installed: SpawnSyncReturns<string>;
const servers: StdioServer[] = [];

/** npm's own environment minus what the outer `npm test` run put there about this project. */
function npmEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(npm_package_|npm_lifecycle_|npm_command$|INIT_CWD$)/.test(name)));
}

/**
 * better-sqlite3 as this clone's own install built it, offered to the fresh install as a local
 * prebuild (prebuild-install's `local-prebuilds`, set in a `.prebuild-installrc` it finds above the
 * folder it installs in): the fresh folder then gets it the way a user's install downloads a
 * prebuilt binary, instead of compiling SQLite a second time (minutes on a small machine). Without
 * that build, or for another version, it compiles.
 */
function reuseBuild(above: string): void {
  const sqlite = join(ROOT, 'node_modules/better-sqlite3');
  if (!existsSync(join(sqlite, 'build/Release/better_sqlite3.node'))) return;
  const { version } = JSON.parse(readFileSync(join(sqlite, 'package.json'), 'utf8')) as { version: string };
  const dir = join(above, 'prebuilds');
  mkdirSync(dir);
  const name = `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
  const tar = run('tar', ['-czf', join(dir, name), '-C', sqlite, 'build/Release/better_sqlite3.node'], sqlite, process.env);
  if (tar.status === 0) writeFileSync(join(above, '.prebuild-installrc'), JSON.stringify({ 'local-prebuilds': dir }));
}

/**
 * The build `npm test` made before the tests (TypeScript compiles once per run), staged as a clean
 * tree: only the files whose source still exists, since the working dist/ may hold modules since
 * removed, and none of the tests'.
 */
function stageBuild(stage: string): void {
  const dist = join(ROOT, 'dist');
  if (!existsSync(join(dist, 'cli/main.js'))) throw new Error(`${dist} is missing: build first (npm run build)`);
  for (const file of readdirSync(dist, { recursive: true, encoding: 'utf8' })) {
    if (!file.endsWith('.js') || file.endsWith('.test.js') || file.split(sep)[0] === 'testing') continue;
    if (existsSync(join(ROOT, 'src', file.replace(/\.js$/, '.ts')))) cpSync(join(dist, file), join(stage, 'dist', file));
  }
}

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, timeout = 60_000): SpawnSyncReturns<string> {
  return spawnSync(command, args, { cwd, env, encoding: 'utf8', timeout });
}

beforeAll(() => {
  // Packed from a clean copy of the build in a staging folder (rebuilding dist/ itself would pull it
  // from under tests running beside this one).
  const stage = join(home.dir, 'stage');
  mkdirSync(stage);
  for (const file of ['package.json', 'README.md', 'mcp.example.json', 'toolsnaps']) cpSync(join(ROOT, file), join(stage, file), { recursive: true });
  stageBuild(stage);
  const pack = run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', home.dir], stage, npmEnv());
  if (pack.status !== 0) throw new Error(`npm pack failed: ${pack.stderr}`);
  packed = (JSON.parse(pack.stdout) as Array<typeof packed>)[0]!;
  mkdirSync(app);
  // A user's project approves better-sqlite3's install script (npm 11 allowScripts), and the install
  // runs as npm will once it enforces approvals: an unapproved install script fails it. A tarball is
  // not a registry source, so npm also asks about the package's own `prepare` (the build, already
  // done in the tarball), named by its resolved identity: denied, as a user installing a tarball would.
  const allowScripts = { 'better-sqlite3': true, [`file:${join(home.dir, packed.filename)}`]: false };
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'fresh-folder', private: true, version: '1.0.0', allowScripts }));
  reuseBuild(home.dir);
  installed = run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--strict-allow-scripts', join(home.dir, packed.filename)], app, npmEnv(), INSTALL_TIMEOUT_MS);
}, INSTALL_TIMEOUT_MS + 180_000);

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  home.remove();
});

describe('npm pack', () => {
  it('ships the built code, the tool snapshot, the README and the example config, and nothing else', () => {
    const paths = packed.files.map((f) => f.path).sort();
    for (const path of paths) expect(path).toMatch(/^(dist\/.+\.js|toolsnaps\/tools\.json|README\.md|mcp\.example\.json|package\.json|LICENSE)$/);
    for (const needed of ['dist/cli/main.js', 'dist/remote/api.js', 'toolsnaps/tools.json', 'README.md', 'mcp.example.json', 'package.json']) {
      expect(paths).toContain(needed);
    }
    expect(paths.filter((p) => /\.test\.|^dist\/testing\//.test(p))).toEqual([]);
  });

  it('names a bin whose file starts with a node shebang', () => {
    expect(pkg.bin).toEqual({ 'dispersl-mcp': 'dist/cli/main.js' });
    expect(readFileSync(join(home.dir, 'stage/dist/cli/main.js'), 'utf8').split('\n', 1)[0]).toBe('#!/usr/bin/env node');
    expect(pkg.engines.node).toBe('>=20');
  });

  it('depends at run time on exactly the packages the built code imports', () => {
    const imported = new Set<string>();
    for (const { path } of packed.files.filter((f) => f.path.endsWith('.js'))) {
      for (const [, spec] of readFileSync(join(home.dir, 'stage', path), 'utf8').matchAll(/(?:from\s+|import\()\s*'([^'.][^']*)'/g)) {
        const name = spec!.startsWith('@') ? spec!.split('/').slice(0, 2).join('/') : spec!.split('/')[0]!;
        if (!name.startsWith('node:') && !builtinModules.includes(name)) imported.add(name);
      }
    }
    expect([...imported].sort()).toEqual(Object.keys(pkg.dependencies).sort());
  });
});

describe('the package installed in a fresh folder', () => {
  it('installs with npm from the tarball', () => {
    expect(installed.error).toBeUndefined();
    expect(installed.status, installed.stderr).toBe(0);
  });

  it('installs the runtime dependencies only', () => {
    const modules = join(app, 'node_modules');
    for (const dep of Object.keys(pkg.dependencies)) expect(existsSync(join(modules, dep)), dep).toBe(true);
    for (const dev of Object.keys(pkg.devDependencies)) expect(existsSync(join(modules, dev)), dev).toBe(false);
  });

  it('links an executable dispersl-mcp into node_modules/.bin', () => {
    const bin = join(app, 'node_modules/.bin/dispersl-mcp');
    expect(realpathSync(bin)).toBe(realpathSync(join(app, 'node_modules/dispersl-mcp/dist/cli/main.js')));
    expect(statSync(bin).mode & 0o111).not.toBe(0);
  });

  it('runs through npx: --version and --help', () => {
    const version = run('npx', ['dispersl-mcp', '--version'], app, baseEnv(home.dir));
    expect(version.stdout.trim()).toBe(pkg.version);
    const help = run('npx', ['dispersl-mcp', '--help'], app, baseEnv(home.dir));
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('DISPERSL_API_KEY');
  });

  it('serves MCP over stdio through npx to the SDK client, on a database made by npx dispersl-mcp init', async () => {
    const dbPath = join(home.dir, 'data', 'dispersl.db');
    const admin = init(home.dir, dbPath, [], ['npx', 'dispersl-mcp'], app);
    const server = await stdio(baseEnv(home.dir, { DISPERSL_API_KEY: admin.secret, DISPERSL_DB: dbPath }), ['npx', 'dispersl-mcp'], app);
    servers.push(server);
    expect(server.client.getServerVersion()).toMatchObject({ name: 'dispersl-mcp', version: pkg.version });
    const tools = (await server.client.listTools()).tools.map((t) => t.name);
    expect(tools).toEqual(['list_keys', 'get_key', 'generate_key', 'revoke_key', 'rotate_key', 'update_key', 'whoami', 'get_usage', 'list_events']);
    const created = await call(server, 'generate_key', { name: 'From the package', environment: 'test' });
    expect(created.ok).toBe(true);
    expect(created.value.secret).toMatch(/^pk_test_/);
    const list = await call(server, 'list_keys');
    expect((list.value.keys as Array<{ id: string }>).map((k) => k.id)).toEqual([(created.value.key as { id: string }).id, admin.keyId]);
    expect(existsSync(join(home.dir, '.dispersl'))).toBe(false);
  });
});
