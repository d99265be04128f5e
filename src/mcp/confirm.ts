import type { KeyApi } from '../core/api.js';
import { DisperslError } from '../core/errors.js';
import type { KeyView } from '../core/schemas.js';
import { type ConfirmPolicy, type Human, InputRequired, type Round } from './protocol.js';
import type { Tool } from './tool.js';

/**
 * Asking the human before a destructive call (revoke, rotate, disable): a form showing the key and
 * what will happen. On 2026-07-28 the question goes out as an input_required result and the answer
 * comes back in the next round (its sealed requestState says a confirmation was asked); over stdio on
 * earlier revisions as an elicitation/create request the client answers at once. A client that
 * cannot ask is let through (auto) or refused (required).
 */

/** The state sealed into requestState while the human is asked. */
export const CONFIRM_STATE = { kind: 'confirm' } as const;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Only an explicit yes confirms: accept with the box ticked. Decline, cancel, or accept unticked do not. */
export function confirmed(answer: unknown): boolean {
  return isObject(answer) && answer.action === 'accept' && isObject(answer.content) && answer.content.confirm === true;
}

/** The form: who the key is (name quoted: it is a user's label, never an instruction) and what happens. */
export function confirmationForm(tool: Tool, key: Pick<KeyView, 'id'> & Partial<KeyView>, args: unknown): { message: string; requestedSchema: Record<string, unknown> } {
  const rule = tool.confirm!;
  const consequence = rule.consequence(args);
  const lines = [
    `${rule.action}?`,
    '',
    ...(key.name !== undefined ? [`Name: ${JSON.stringify(key.name)}`] : []),
    `Id: ${key.id}`,
    ...(key.start !== undefined ? [`Starts with: ${key.start}`] : []),
    ...(key.environment !== undefined ? [`Environment: ${key.environment}`] : []),
    ...(key.name !== undefined ? [`Last used: ${key.last_used_at ?? 'never'}`] : []),
    '',
    consequence,
  ];
  return {
    message: lines.join('\n'),
    requestedSchema: {
      type: 'object',
      properties: { confirm: { type: 'boolean', title: rule.action, description: consequence, default: false } },
      required: ['confirm'],
    },
  };
}

/**
 * Whether the call may run now ('go'), or the question to send (2026-07-28). Throws the contract's
 * CONFIRMATION_DECLINED / CONFIRMATION_REQUIRED; nothing has run or been charged then.
 */
export async function confirmFirst(policy: ConfirmPolicy, tool: Tool, api: KeyApi, input: unknown, round: Round | undefined, human: Human | undefined): Promise<'go' | InputRequired> {
  const rule = tool.confirm;
  if (rule === undefined || policy === 'off') return 'go';
  const parsed = tool.operationInput.safeParse(input ?? {});
  // Bad input asks nothing: the operation reports it.
  if (!parsed.success || (rule.when !== undefined && !rule.when(parsed.data))) return 'go';
  if (human?.form !== true) {
    if (policy === 'required') throw new DisperslError('CONFIRMATION_REQUIRED', undefined, { tool: tool.name });
    return 'go';
  }
  if (round !== undefined && human.elicit === undefined && isObject(round.state) && round.state.kind === CONFIRM_STATE.kind) {
    if (confirmed(round.inputResponses.confirm)) return 'go';
    throw new DisperslError('CONFIRMATION_DECLINED', undefined, { tool: tool.name });
  }
  let key: Pick<KeyView, 'id'> & Partial<KeyView>;
  try {
    key = api.preview ? await api.preview(tool.operation, parsed.data) : { id: String((parsed.data as { id?: unknown }).id) };
  } catch {
    // An unknown key, a missing permission, the calling key itself: nothing to confirm; the operation answers the error (and is charged like any call).
    return 'go';
  }
  const form = confirmationForm(tool, key, parsed.data);
  if (human.elicit !== undefined) {
    // A client that errs, or never answers, has not confirmed.
    const answer = await human.elicit(form).catch(() => undefined);
    if (confirmed(answer)) return 'go';
    throw new DisperslError('CONFIRMATION_DECLINED', undefined, { tool: tool.name });
  }
  return new InputRequired({ confirm: { method: 'elicitation/create', params: { mode: 'form', ...form } } }, CONFIRM_STATE);
}
