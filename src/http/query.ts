import type { AppContext } from './env.js';

/**
 * Query parameters as the service's input: numbers and booleans converted when they read as such,
 * anything else passed through unchanged so the service's schema names the field that is wrong.
 */
export function queryInput(c: AppContext, types: { numbers?: readonly string[]; booleans?: readonly string[] } = {}): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(c.req.query())) {
    if (types.numbers?.includes(name) && /^-?\d{1,15}$/.test(value)) input[name] = Number(value);
    else if (types.booleans?.includes(name) && (value === 'true' || value === 'false')) input[name] = value === 'true';
    else input[name] = value;
  }
  return input;
}
