import { DisperslError, invalidRequest } from '../core/errors.js';
import type { Reveals } from '../core/reveals.js';
import type { SealSecret } from '../core/service.js';
import { type Human, InputRequired } from './protocol.js';

/**
 * Secret delivery (--secret-delivery, and a call's secret_delivery that may only be stricter). With
 * reveal, the new secret waits sealed for a one-time reveal and the result the model reads holds
 * `reveal` instead: a page URL (where a serve shows it) and a terminal command, or nothing at all
 * when a 2026-07-28 client shows the user the link itself (URL elicitation).
 */

export type SecretDelivery = 'inline' | 'reveal';
export const SECRET_DELIVERIES: readonly SecretDelivery[] = ['inline', 'reveal'];

/** A call whose result holds a new secret; given `reveal`, it stores the secret sealed with the key. */
export type SecretCall = (reveal?: SealSecret) => Promise<Record<string, unknown>>;

/** Where a secret waits to be shown once: the local database, or remote mode's server. */
export interface RevealDesk {
  /** Runs the call so that its new secret waits for one reveal: its result, and the reveal's code, expiry and page (if any). */
  issue(call: SecretCall): Promise<{ result: Record<string, unknown>; code: string; expires_at: number; url?: string | undefined }>;
}

/**
 * The desk of a local database: the secret is sealed and stored in the transaction that creates its
 * key, so a key never exists without the reveal that delivers it. `url` is where a serve shows a code.
 */
export function localDesk(reveals: Reveals, url?: (code: string) => string): RevealDesk {
  return {
    async issue(call) {
      const issued = await reveals.issue(call);
      return { ...issued, url: url?.(issued.code) };
    },
  };
}

/** The state sealed into requestState while a client shows the user the reveal link. */
export interface RevealedState {
  kind: 'revealed';
  result: Record<string, unknown>;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Takes a call's secret_delivery out of its arguments (the operation does not know it): the delivery to use, and the rest. */
export function splitDelivery(server: SecretDelivery, args: unknown): { delivery: SecretDelivery; input: unknown } {
  if (!isObject(args) || !('secret_delivery' in args)) return { delivery: server, input: args };
  const { secret_delivery: asked, ...input } = args;
  if (asked === undefined) return { delivery: server, input };
  if (asked !== 'inline' && asked !== 'reveal') throw invalidRequest([{ path: 'secret_delivery', message: "must be 'inline' or 'reveal'" }]);
  if (server === 'reveal' && asked === 'inline') {
    throw invalidRequest([{ path: 'secret_delivery', message: 'this server delivers secrets by reveal only; a call may only be stricter' }]);
  }
  return { delivery: asked, input };
}

export const REVEAL_COMMAND = 'npx dispersl-mcp reveal';

/** The call's result with its secret replaced by a reveal, or the URL elicitation that shows the link to the user first. */
export async function deliverByReveal(call: SecretCall, desk: RevealDesk | undefined, human: Human | undefined): Promise<Record<string, unknown> | InputRequired> {
  // Refused before the call: no key is made whose secret could not be delivered.
  if (desk === undefined) throw new DisperslError('INVALID_REQUEST', 'This server cannot deliver secrets by reveal', { issues: [{ path: 'secret_delivery', message: 'reveal is not available here' }] });
  const { result, code, expires_at, url } = await desk.issue(call);
  const { secret: _secret, ...rest } = result;
  const expires = new Date(expires_at).toISOString();
  if (url !== undefined && human?.url === true && human.elicit === undefined) {
    const state: RevealedState = { kind: 'revealed', result: { ...rest, reveal: { expires_at: expires, delivered: 'url_elicitation' } } };
    const message = 'Open this one-time page to see the new API key. It shows the secret once and works for 10 minutes.';
    return new InputRequired({ reveal: { method: 'elicitation/create', params: { mode: 'url', message, url } } }, state);
  }
  return { ...rest, reveal: { ...(url !== undefined && { url }), command: `${REVEAL_COMMAND} ${code}`, expires_at: expires } };
}

/** A round answering the URL elicitation: the result it held back. */
export function revealedResult(state: unknown): Record<string, unknown> | undefined {
  return isObject(state) && state.kind === 'revealed' && isObject(state.result) ? state.result : undefined;
}
