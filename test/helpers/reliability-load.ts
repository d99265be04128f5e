import { readFileSync } from 'node:fs';
import { rest } from './reliability-proc.js';

/**
 * A bounded mixed load on one server over loopback: closed-loop clients issue reads, generates,
 * revokes, rotations and MCP tool calls for a fixed time (and never more than a fixed count),
 * while the server's resident memory is sampled once a second.
 */

export type OpKind = 'list' | 'get' | 'me' | 'generate' | 'revoke' | 'rotate' | 'mcp';

/** Share of each kind in the mix, in percent. */
export const MIX: Record<OpKind, number> = { list: 15, get: 20, me: 15, generate: 15, revoke: 10, rotate: 5, mcp: 20 };

export interface LoadOptions {
  base: string;
  key: string;
  serverPid: number;
  seconds: number;
  clients: number;
  /** Hard cap on requests, whatever the time. */
  maxRequests: number;
}

export interface LoadReport {
  seconds: number;
  clients: number;
  requests: number;
  perSecond: number;
  byKind: Record<string, { count: number; p50: number; p99: number; max: number }>;
  statuses: Record<string, number>;
  /** The first answer of each refusing status, to see what refused it. */
  examples: Record<string, string>;
  networkErrors: number;
  p50: number;
  p99: number;
  max: number;
  rss: { samples: number[]; afterWarmUpMiB: number; endMiB: number; peakMiB: number; growthMiB: number };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const round = (ms: number) => Math.round(ms * 100) / 100;

/** Resident set size of a process, in MiB (Linux /proc). */
export function rssMiB(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return kb === undefined ? 0 : Number(kb) / 1024;
}

function pick(): OpKind {
  let roll = Math.random() * 100;
  for (const [kind, share] of Object.entries(MIX) as Array<[OpKind, number]>) {
    roll -= share;
    if (roll < 0) return kind;
  }
  return 'me';
}

export async function runLoad(options: LoadOptions): Promise<LoadReport> {
  const { base, key } = options;
  const pool: string[] = [];
  const latencies = new Map<OpKind, number[]>();
  const statuses: Record<string, number> = {};
  const examples: Record<string, string> = {};
  /** Which answer put each id in the pool, to explain a refusal on it. */
  const originOf = new Map<string, string>();
  let networkErrors = 0;
  let sent = 0;
  const started = performance.now();
  const deadline = started + options.seconds * 1000;

  const samples: number[] = [];
  const sampler = setInterval(() => samples.push(rssMiB(options.serverPid)), 1000);

  const once = async (kind: OpKind): Promise<void> => {
    const id = pool.length > 0 ? pool[Math.floor(Math.random() * pool.length)] : undefined;
    const t0 = performance.now();
    let status: number;
    let json: unknown;
    try {
      let answer;
      switch (kind) {
        case 'list':
          answer = await rest(base, 'GET', '/v1/keys?limit=20', key);
          break;
        case 'get':
          answer = await rest(base, 'GET', id ? `/v1/keys/${id}` : '/v1/me', key);
          break;
        case 'me':
          answer = await rest(base, 'GET', '/v1/me', key);
          break;
        case 'generate':
          answer = await rest(base, 'POST', '/v1/api-keys', key, { name: `load ${sent}`, permissions: ['keys:read'], expires_in_seconds: 3600 });
          break;
        case 'revoke':
          if (id) pool.splice(pool.indexOf(id), 1);
          answer = id ? await rest(base, 'DELETE', `/v1/keys/${id}`, key) : await rest(base, 'GET', '/v1/me', key);
          break;
        case 'rotate':
          if (id) pool.splice(pool.indexOf(id), 1);
          answer = id ? await rest(base, 'POST', `/v1/keys/${id}/rotate`, key, { grace_period_seconds: 0 }) : await rest(base, 'GET', '/v1/me', key);
          break;
        case 'mcp': {
          const call = id && Math.random() < 0.5 ? { name: 'get_key', arguments: { id } } : { name: Math.random() < 0.5 ? 'whoami' : 'list_keys', arguments: {} };
          answer = await rest(base, 'POST', '/mcp', key, { jsonrpc: '2.0', id: sent, method: 'tools/call', params: call });
          break;
        }
      }
      status = answer.status;
      json = answer.json;
      if (kind === 'mcp' && (json as { result?: { isError?: boolean } })?.result?.isError) status = 299; // a tool error inside a 200
    } catch {
      networkErrors++;
      return;
    }
    const ms = performance.now() - t0;
    const list = latencies.get(kind) ?? [];
    list.push(ms);
    latencies.set(kind, list);
    statuses[String(status)] = (statuses[String(status)] ?? 0) + 1;
    if (status >= 299 && examples[String(status)] === undefined) {
      examples[String(status)] = `${kind} ${id ?? ''}: ${JSON.stringify(json).slice(0, 300)} (id from: ${id ? originOf.get(id) : 'none'})`;
    }
    // Only a real generate or rotate adds a key (a rotate with an empty pool asked /v1/me instead).
    if (status < 300 && (kind === 'generate' || (kind === 'rotate' && id !== undefined))) {
      const body = json as { id?: string; key?: { id: string } };
      const newId = body.id ?? body.key?.id;
      if (newId) {
        pool.push(newId);
        originOf.set(newId, `${kind} ${id ?? ''} -> ${JSON.stringify(json).slice(0, 400)}`);
      }
    }
  };

  const client = async () => {
    while (performance.now() < deadline && sent < options.maxRequests) {
      sent++;
      await once(pick());
    }
  };
  await Promise.all(Array.from({ length: options.clients }, client));
  clearInterval(sampler);
  samples.push(rssMiB(options.serverPid));

  const elapsed = (performance.now() - started) / 1000;
  const all = [...latencies.values()].flat().sort((a, b) => a - b);
  const byKind = Object.fromEntries(
    [...latencies].map(([kind, list]) => {
      const sorted = [...list].sort((a, b) => a - b);
      return [kind, { count: sorted.length, p50: round(percentile(sorted, 50)), p99: round(percentile(sorted, 99)), max: round(sorted[sorted.length - 1] ?? 0) }];
    }),
  );
  // Warm-up: the first fifth of the run (at least 10 s when the run is long enough to have it).
  const warm = Math.min(samples.length - 1, Math.max(Math.floor(samples.length / 5), Math.min(10, Math.floor(samples.length / 2))));
  const steady = samples.slice(warm);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const fifth = Math.max(1, Math.floor(steady.length / 5));
  const afterWarmUp = mean(steady.slice(0, fifth));
  const end = mean(steady.slice(-fifth));
  return {
    seconds: round(elapsed),
    clients: options.clients,
    requests: all.length,
    perSecond: Math.round(all.length / elapsed),
    byKind,
    statuses,
    examples,
    networkErrors,
    p50: round(percentile(all, 50)),
    p99: round(percentile(all, 99)),
    max: round(all[all.length - 1] ?? 0),
    rss: {
      samples: samples.map((s) => Math.round(s)),
      afterWarmUpMiB: Math.round(afterWarmUp),
      endMiB: Math.round(end),
      peakMiB: Math.round(Math.max(...samples)),
      growthMiB: Math.round(end - afterWarmUp),
    },
  };
}

/** The report as the Markdown block docs/reliability.md keeps for the latest run of each mode. */
export function reportMarkdown(mode: string, report: LoadReport, when: Date, note: string): string {
  const rows = Object.entries(report.byKind)
    .sort()
    .map(([kind, k]) => `| ${kind} | ${k.count} | ${k.p50} | ${k.p99} | ${k.max} |`);
  const statuses = Object.entries(report.statuses)
    .sort()
    .map(([s, n]) => `${s === '299' ? 'tool error in 200' : s}: ${n}`)
    .join(', ');
  return [
    `Latest ${mode} run: ${when.toISOString().slice(0, 16).replace('T', ' ')} UTC, ${report.seconds} s, ${report.clients} clients, ${note}.`,
    '',
    `- requests: ${report.requests} (${report.perSecond}/s); statuses: ${statuses}; network errors: ${report.networkErrors}`,
    `- latency, all requests: p50 ${report.p50} ms, p99 ${report.p99} ms, max ${report.max} ms`,
    `- server RSS: ${report.rss.afterWarmUpMiB} MiB after warm-up, ${report.rss.endMiB} MiB at the end (growth ${report.rss.growthMiB} MiB), peak ${report.rss.peakMiB} MiB`,
    '',
    '| kind | count | p50 ms | p99 ms | max ms |',
    '|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}
