// What the two gate benchmarks (SQLite and PostgreSQL) share: the scenarios, the rounds and the table.
import { createHash } from 'node:crypto';
import { drive, int, median, msText, quantile, ratio } from './lib.js';

export const sha256 = (token) => createHash('sha256').update(token).digest('base64url');

/** How the admits arrive: callers at once, and whether they share one key or each has its own. */
export function gateScenarios(keys) {
  return [
    { label: '1 in flight, 1 key', concurrency: 1, keys: 1 },
    { label: '64 in flight, 1 key', concurrency: 64, keys: 1 },
    { label: `64 in flight, ${keys} keys`, concurrency: 64, keys },
  ];
}

/** A contender: its name, its tokens, and `impl` ({admit(token), persisted(), close()}), counting what it admits. */
export async function gateContender(name, tokens, impl) {
  return { name, tokens, impl, before: await impl.persisted(), admitted: 0, runs: new Map() };
}

async function measure(c, scenario, ms, latencies = true) {
  let next = 0;
  // Each caller keeps one token: the first `keys` tokens shared round-robin among the callers.
  const callers = Array.from({ length: scenario.concurrency }, () => c.tokens[next++ % scenario.keys]);
  let i = 0;
  const result = await drive(() => c.impl.admit(callers[i++ % callers.length]), { ms, concurrency: scenario.concurrency, latencies });
  c.admitted += result.count;
  return result;
}

/** A warm-up, then `rounds` rounds of every scenario, alternating which contender goes first, so a burst of load from elsewhere hits them all alike. */
export async function runGateRounds(contenders, scenarios, { rounds, roundMs, warmMs, log }) {
  for (const c of contenders) for (const scenario of scenarios) await measure(c, scenario, warmMs / scenarios.length, false);
  for (let round = 0; round < rounds; round++) {
    for (const scenario of scenarios) {
      for (const c of round % 2 === 0 ? contenders : [...contenders].reverse()) {
        const runs = c.runs.get(scenario) ?? [];
        runs.push(await measure(c, scenario, roundMs));
        c.runs.set(scenario, runs);
      }
    }
    log(`round ${round + 1}/${rounds} done`);
  }
}

/** The median admits/s of a contender in a scenario. */
export const rateOf = (c, scenario) => median(c.runs.get(scenario).map((r) => r.perSecond));

/** A row per scenario and contender, each compared with the first contender (plain). */
export function gateRows(contenders, scenarios) {
  const rows = [];
  for (const scenario of scenarios) {
    const plainRate = rateOf(contenders[0], scenario);
    for (const c of contenders) {
      const runs = c.runs.get(scenario);
      const latencies = runs.flatMap((r) => r.latencies);
      rows.push({
        scenario: scenario.label,
        implementation: c.name,
        'admits/s': int(rateOf(c, scenario)),
        'rounds (min–max)': `${int(Math.min(...runs.map((r) => r.perSecond)))}–${int(Math.max(...runs.map((r) => r.perSecond)))}`,
        'vs plain': ratio(rateOf(c, scenario) / plainRate),
        p50: msText(median(latencies)),
        p99: msText(quantile(latencies, 0.99)),
      });
    }
  }
  return rows;
}

/** The persisted counters against the admits answered (the speed is not bought with lost counts); closes each contender. */
export async function checkExact(contenders) {
  const lines = [];
  for (const c of contenders) {
    if (c.before !== undefined) {
      const counted = (await c.impl.persisted()) - c.before;
      lines.push(`${c.name.split(':')[0]} ${counted === c.admitted ? `exact (${int(counted)})` : `counted ${int(counted)} for ${int(c.admitted)} admitted`}`);
    }
    await c.impl.close();
  }
  return lines;
}
