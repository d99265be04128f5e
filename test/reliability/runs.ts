/**
 * How many generated cases each property runs. `npm test` uses the default; DISPERSL_RELIABILITY_RUNS
 * scales every property (npm run reliability uses 4: four times as many cases).
 */
const scale = Number(process.env.DISPERSL_RELIABILITY_RUNS ?? '1');

export function runs(base: number): number {
  return Math.max(1, Math.round(base * (Number.isFinite(scale) && scale > 0 ? scale : 1)));
}

/** Random cases unless DISPERSL_RELIABILITY_SEED is set; a failure prints its seed, and that seed replays it. */
export const SEED = process.env.DISPERSL_RELIABILITY_SEED === undefined ? undefined : Number(process.env.DISPERSL_RELIABILITY_SEED);

export function fcOptions(base: number): { numRuns: number; seed?: number } {
  return { numRuns: runs(base), ...(SEED !== undefined && { seed: SEED }) };
}
