import { parse as parseToml } from 'smol-toml';
import type { ClientId, Snippet } from '../../src/cli/clients.js';

/**
 * A client config read the way its client reads it: what to connect to (a URL and headers) or what
 * to start (a command, its arguments and environment), with the client's own placeholders filled in.
 */
export type Launch = { kind: 'http'; url: string; headers: Record<string, string> } | { kind: 'stdio'; command: string; args: string[]; env: Record<string, string> };

export interface Surroundings {
  /** The environment the client itself was started in. */
  env: Record<string, string>;
  /** What the user types when the client asks (VS Code's input prompts). */
  prompt: string;
}

type Entry = { url?: string; serverUrl?: string; type?: string; headers?: Record<string, string>; command?: string; args?: string[]; env?: Record<string, string> };

/** Where each JSON client keeps its servers. */
const CONTAINER: Partial<Record<ClientId, string>> = { vscode: 'servers', zed: 'context_servers' };

/** How each client fills the values of a JSON config: `${env:X}`, `${X}`, `${input:id}`, or not at all. */
function expander(client: ClientId, around: Surroundings, inputs: Array<{ id: string; password?: boolean }>): (value: string) => string {
  const env = (name: string) => around.env[name] ?? '';
  switch (client) {
    case 'cursor':
    case 'windsurf':
      return (v) => v.replace(/\$\{env:(\w+)\}/g, (_, name: string) => env(name));
    case 'vscode':
      return (v) =>
        v
          .replace(/\$\{env:(\w+)\}/g, (_, name: string) => env(name))
          .replace(/\$\{input:([\w-]+)\}/g, (_, id: string) => {
            const input = inputs.find((i) => i.id === id);
            if (input === undefined) throw new Error(`VS Code: \${input:${id}} names no entry of "inputs"`);
            return around.prompt;
          });
    case 'claude-code':
      return (v) => v.replace(/\$\{(\w+)(?::-([^}]*))?\}/g, (_, name: string, fallback?: string) => around.env[name] ?? fallback ?? '');
    default:
      return (v) => v;
  }
}

function fromJson(snippet: Snippet, around: Surroundings): Launch {
  const doc = JSON.parse(snippet.text) as Record<string, unknown> & { inputs?: Array<{ id: string; password?: boolean }> };
  const servers = doc[CONTAINER[snippet.client] ?? 'mcpServers'] as Record<string, Entry> | undefined;
  if (servers === undefined || Object.keys(servers).length !== 1) throw new Error(`${snippet.id}: expected one server in ${CONTAINER[snippet.client] ?? 'mcpServers'}`);
  const entry = Object.values(servers)[0]!;
  const fill = expander(snippet.client, around, doc.inputs ?? []);
  const map = (record: Record<string, string> = {}) => Object.fromEntries(Object.entries(record).map(([k, v]) => [k, fill(v)]));
  const url = entry.url ?? entry.serverUrl;
  if (url !== undefined) return { kind: 'http', url: fill(url), headers: map(entry.headers) };
  if (entry.command === undefined) throw new Error(`${snippet.id}: neither a URL nor a command`);
  return { kind: 'stdio', command: fill(entry.command), args: (entry.args ?? []).map(fill), env: map(entry.env) };
}

/** Codex: a bearer token only from the variable `bearer_token_env_var` names; a child gets only `env` and the `env_vars` it forwards. */
function fromToml(snippet: Snippet, around: Surroundings): Launch {
  const doc = parseToml(snippet.text) as { mcp_servers?: Record<string, Record<string, unknown>> };
  const entry = Object.values(doc.mcp_servers ?? {})[0];
  if (entry === undefined) throw new Error(`${snippet.id}: no [mcp_servers.<name>] table`);
  if ('bearer_token' in entry) throw new Error(`${snippet.id}: Codex refuses an inline bearer_token`);
  if (typeof entry.url === 'string') {
    const headers: Record<string, string> = { ...(entry.http_headers as Record<string, string> | undefined) };
    if (typeof entry.bearer_token_env_var === 'string') headers.Authorization = `Bearer ${around.env[entry.bearer_token_env_var] ?? ''}`;
    return { kind: 'http', url: entry.url, headers };
  }
  const forwarded = Object.fromEntries(((entry.env_vars as string[] | undefined) ?? []).filter((name) => name in around.env).map((name) => [name, around.env[name]!]));
  return { kind: 'stdio', command: entry.command as string, args: (entry.args as string[] | undefined) ?? [], env: { ...forwarded, ...(entry.env as Record<string, string> | undefined) } };
}

/** POSIX shell words: quotes removed, `$NAME` and `${NAME}` expanded outside single quotes. */
export function shellWords(line: string, env: Record<string, string>): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let i = 0;
  const variable = (): string => {
    const match = /^\$(?:\{(\w+)\}|(\w+))/.exec(line.slice(i));
    if (!match) {
      i++;
      return '$';
    }
    i += match[0].length;
    return env[match[1] ?? match[2]!] ?? '';
  };
  while (i < line.length) {
    const ch = line[i]!;
    if (/\s/.test(ch)) {
      if (word !== undefined) words.push(word);
      word = undefined;
      i++;
    } else if (ch === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unclosed ' in: ${line}`);
      word = (word ?? '') + line.slice(i + 1, end);
      i = end + 1;
    } else if (ch === '"') {
      word ??= '';
      i++;
      while (line[i] !== '"') {
        if (i >= line.length) throw new Error(`unclosed " in: ${line}`);
        if (line[i] === '$') word += variable();
        else if (line[i] === '\\' && /["\\$`]/.test(line[i + 1] ?? '')) {
          word += line[i + 1];
          i += 2;
        } else word += line[i++];
      }
      i++;
    } else if (ch === '$') word = (word ?? '') + variable();
    else if (ch === '\\') {
      word = (word ?? '') + (line[i + 1] ?? '');
      i += 2;
    } else {
      word = (word ?? '') + ch;
      i++;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}

/** `claude mcp add [--transport T] [--header H]… [--env K=V]… <name> <url>` or `… <name> -- <command> [args…]`. */
function fromClaudeCommand(snippet: Snippet, around: Surroundings): Launch {
  const words = shellWords(snippet.text, around.env);
  if (words.slice(0, 3).join(' ') !== 'claude mcp add') throw new Error(`${snippet.id}: not a claude mcp add command`);
  const dash = words.indexOf('--');
  const options = dash < 0 ? words.slice(3) : words.slice(3, dash);
  const headers: Record<string, string> = {};
  const env: Record<string, string> = {};
  const positional: string[] = [];
  let transport = 'stdio';
  for (let j = 0; j < options.length; j++) {
    const word = options[j]!;
    if (word === '--transport' || word === '-t') transport = options[++j]!;
    else if (word === '--header' || word === '-H') {
      const [name, ...value] = options[++j]!.split(':');
      headers[name!.trim()] = value.join(':').trim();
    } else if (word === '--env' || word === '-e') {
      const [name, ...value] = options[++j]!.split('=');
      env[name!] = value.join('=');
    } else if (word === '--scope' || word === '-s') j++;
    else if (word.startsWith('-')) throw new Error(`${snippet.id}: unexpected option ${word}`);
    else positional.push(word);
  }
  if (transport === 'http') {
    if (positional.length !== 2) throw new Error(`${snippet.id}: expected <name> <url>`);
    return { kind: 'http', url: positional[1]!, headers };
  }
  if (positional.length !== 1 || dash < 0) throw new Error(`${snippet.id}: expected <name> -- <command>`);
  return { kind: 'stdio', command: words[dash + 1]!, args: words.slice(dash + 2), env };
}

export function launchOf(snippet: Snippet, around: Surroundings): Launch {
  switch (snippet.format) {
    case 'json':
      return fromJson(snippet, around);
    case 'toml':
      return fromToml(snippet, around);
    case 'shell':
      return fromClaudeCommand(snippet, around);
  }
}
