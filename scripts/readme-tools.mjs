#!/usr/bin/env node
// Writes the README's tool table from toolsnaps/tools.json (what tools/list shows a model), between
// the <!-- tools:start --> and <!-- tools:end --> markers. `npm run readme:tools` runs it; a test
// fails while the README and the snapshot disagree.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const START = '<!-- tools:start -->';
export const END = '<!-- tools:end -->';

const cell = (text) => text.replace(/\|/g, '\\|').replace(/\s+/g, ' ').trim();

/** The first sentence of a description: what the tool does, before the how. */
function summary(description) {
  return description.split(/(?<=\.)\s+(?=[A-Z])/)[0];
}

function needs(description) {
  return /Needs ([^.]+)\.\s*$/.exec(description)?.[1] ?? '—';
}

function hints(annotations) {
  if (annotations.readOnlyHint) return 'read-only';
  const words = [annotations.destructiveHint ? 'destructive' : 'write'];
  if (annotations.idempotentHint) words.push('idempotent');
  return words.join(', ');
}

function args(inputSchema) {
  const required = new Set(inputSchema.required ?? []);
  const names = Object.keys(inputSchema.properties ?? {});
  if (names.length === 0) return '—';
  return names.map((name) => (required.has(name) ? `**\`${name}\`**` : `\`${name}\``)).join(', ');
}

/** The markdown table of the tools, one row each, in tools/list order. */
export function toolsTable(tools) {
  const rows = tools.map((t) => `| \`${t.name}\` | ${cell(summary(t.description))} | ${args(t.inputSchema)} | ${cell(needs(t.description))} | ${hints(t.annotations)} |`);
  return [
    '| tool | what it does | arguments (**required**) | needs | kind |',
    '|---|---|---|---|---|',
    ...rows,
    '',
    '_Generated from `toolsnaps/tools.json` by `npm run readme:tools`; a test fails when they disagree._',
  ].join('\n');
}

/** The README with its tool table replaced by the one for `tools`. */
export function withToolsTable(readme, tools) {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start === -1 || end < start) throw new Error(`README.md must hold ${START} and then ${END}`);
  return `${readme.slice(0, start + START.length)}\n${toolsTable(tools)}\n${readme.slice(end)}`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const root = new URL('../', import.meta.url);
  const readmePath = fileURLToPath(new URL('README.md', root));
  const tools = JSON.parse(readFileSync(new URL('toolsnaps/tools.json', root), 'utf8'));
  const before = readFileSync(readmePath, 'utf8');
  const after = withToolsTable(before, tools);
  if (after === before) process.stdout.write('README.md: the tool table is up to date\n');
  else {
    writeFileSync(readmePath, after);
    process.stdout.write(`README.md: tool table rewritten (${tools.length} tools)\n`);
  }
}
