// Runs bench/*.bench.js (all, or those named on the command line) and records their tables in bench/RESULTS.md.
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const RESULTS = join(HERE, 'RESULTS.md');
const SUFFIX = '.bench.js';

function usage(message) {
  process.stderr.write(`${message}\nusage: npm run bench [-- <name>…]   names: ${available().join(', ')}\n`);
  process.exit(2);
}

function available() {
  return readdirSync(HERE)
    .filter((file) => file.endsWith(SUFFIX))
    .map((file) => basename(file, SUFFIX))
    .sort();
}

function cell(value) {
  return String(value ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** A markdown table from rows of {column: value}; columns default to the keys of the first row. */
export function table(rows, columns = Object.keys(rows[0] ?? {})) {
  if (rows.length === 0) return '_(no rows)_';
  const numeric = columns.map((c) => rows.every((r) => /^[\d,.\s×%+-]*(ms|µs|s|×)?$/.test(String(r[c] ?? ''))));
  return [
    `| ${columns.map(cell).join(' | ')} |`,
    `| ${numeric.map((n) => (n ? '---:' : '---')).join(' | ')} |`,
    ...rows.map((r) => `| ${columns.map((c) => cell(r[c])).join(' | ')} |`),
  ].join('\n');
}

function machine() {
  const cores = cpus();
  const model = cores[0]?.model.trim() || 'unknown CPU';
  const load = loadavg().map((n) => n.toFixed(2)).join(', ');
  return { text: `Node ${process.version} on ${model}, ${cores.length} cores (os.cpus()), ${Math.round(totalmem() / 2 ** 30)} GiB, ${process.platform}/${process.arch}`, load };
}

function validate(name, result) {
  if (typeof result !== 'object' || result === null) throw new Error(`${name}: the default export must resolve to {title, rows, notes?}`);
  if (typeof result.title !== 'string') throw new Error(`${name}: title must be a string`);
  if (!Array.isArray(result.rows)) throw new Error(`${name}: rows must be an array of objects`);
}

/** Sections of an earlier RESULTS.md, so a partial run replaces only the benchmarks it ran. */
function previousSections() {
  const sections = new Map();
  if (!existsSync(RESULTS)) return sections;
  const text = readFileSync(RESULTS, 'utf8');
  for (const match of text.matchAll(/<!-- bench:(\S+) -->\n([\s\S]*?)<!-- \/bench:\1 -->/g)) sections.set(match[1], match[2]);
  return sections;
}

function writeResults(sections, latest) {
  const names = [...sections.keys()].sort();
  const body = names.map((name) => `<!-- bench:${name} -->\n${sections.get(name)}<!-- /bench:${name} -->`).join('\n\n');
  writeFileSync(
    RESULTS,
    `# Benchmark results\n\nWritten by \`npm run bench\` (see [README.md](README.md) for what each benchmark compares). ` +
      `Each section records the machine, date and command of the run that produced it; the last run was \`${latest}\`.\n\n${body}\n`,
  );
}

async function main() {
  const names = process.argv.slice(2);
  const all = available();
  for (const name of names) if (!all.includes(name)) usage(`unknown benchmark '${name}'`);
  const selected = names.length > 0 ? names : all;
  const command = `npm run bench${names.length > 0 ? ` -- ${names.join(' ')}` : ''}`;
  let failed = false;

  for (const name of selected) {
    const started = new Date();
    const host = machine();
    process.stderr.write(`\n▶ ${name} (load average ${host.load})\n`);
    const log = (message) => process.stderr.write(`  ${name}: ${message}\n`);
    let result;
    try {
      const module = await import(pathToFileURL(join(HERE, `${name}${SUFFIX}`)).href);
      result = await module.default({ log });
      validate(name, result);
    } catch (err) {
      failed = true;
      process.stderr.write(`  ${name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      continue;
    }
    const seconds = ((Date.now() - started.getTime()) / 1000).toFixed(1);
    const notes = (result.notes ?? []).map((n) => `- ${n}`).join('\n');
    const section =
      `## ${result.title}\n\n` +
      `\`${command}\` (${name}${SUFFIX}), ${started.toISOString().replace(/\.\d+Z$/, 'Z')}, ${seconds} s. ` +
      `${host.text}; load average at start ${host.load}.` +
      `${process.env.BENCH_NOTE ? ` ${process.env.BENCH_NOTE}` : ''}\n\n` +
      `${table(result.rows, result.columns)}\n\n${notes ? `${notes}\n\n` : ''}`;
    process.stdout.write(`\n${section}`);
    // Re-read just before writing: another run may have recorded its own sections meanwhile.
    const sections = previousSections();
    sections.set(name, section);
    writeResults(sections, command);
  }
  process.stderr.write(`\nResults written to ${RESULTS}\n`);
  if (failed) process.exitCode = 1;
}

await main();
