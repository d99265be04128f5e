import { describe, expect, it } from 'vitest';
import { worldsClosedAfterEach } from '../testing/fixtures.js';
import type { Caller } from './auth.js';
import { allowedActions } from './service.js';

/**
 * allowedActions is what the dashboard offers; the operations are what the server takes. For every
 * kind of caller and of key, an action is offered exactly when the operation would succeed.
 */

const world = worldsClosedAfterEach();

const CALLERS = {
  admin: null,
  'live writer': { permissions: ['keys:read', 'keys:write'] },
  'test writer': { permissions: ['keys:read', 'keys:write'], environment: 'test' },
  reader: { permissions: ['keys:read'] },
  'rotated writer': { permissions: ['keys:read', 'keys:write'], rotated: true },
} as const;

const TARGETS = ['live reader', 'test reader', 'live admin', 'itself', 'revoked', 'expired', 'rotated'] as const;

const ACTIONS = {
  update: { name: 'updateKey', input: { name: 'renamed' } },
  disable: { name: 'updateKey', input: { enabled: false } },
  rotate: { name: 'rotateKey', input: { grace_period_seconds: 60 } },
  revoke: { name: 'revokeKey', input: {} },
} as const;

async function arrange(callerKind: keyof typeof CALLERS, target: (typeof TARGETS)[number]) {
  const w = await world({ plan: 'pro' });
  const admin = await w.callerOf(w.tenant.adminSecret);
  const make = (fields: Record<string, unknown>) => w.service.execute('generateKey', admin, { name: 'key', ...fields });
  const spec = CALLERS[callerKind];
  let caller: Caller = admin;
  if (spec !== null) {
    const made = await make({ permissions: spec.permissions, environment: 'environment' in spec ? spec.environment : 'live' });
    if ('rotated' in spec) await w.service.execute('rotateKey', admin, { id: made.key.id, grace_period_seconds: 3_600 });
    caller = await w.callerOf(made.secret);
  }
  const permissions = target === 'live admin' ? ['admin'] : ['keys:read'];
  const environment = target === 'test reader' ? 'test' : target.startsWith('live') ? 'live' : caller.key.environment;
  const id = target === 'itself' ? caller.key.id : (await make({ permissions, environment, ...(target === 'expired' && { expires_in_seconds: 60 }) })).key.id;
  if (target === 'revoked') await w.service.execute('revokeKey', admin, { id });
  if (target === 'rotated') await w.service.execute('rotateKey', admin, { id, grace_period_seconds: 3_600 });
  if (target === 'expired') w.clock.advance(61_000);
  return { w, caller, id };
}

describe('allowedActions', () => {
  for (const callerKind of Object.keys(CALLERS) as Array<keyof typeof CALLERS>) {
    for (const target of TARGETS) {
      it(`offers a ${callerKind} on a ${target} key exactly what the operations take`, async () => {
        for (const [action, { name, input }] of Object.entries(ACTIONS) as Array<[keyof typeof ACTIONS, (typeof ACTIONS)[keyof typeof ACTIONS]]>) {
          // Revoking a revoked key answers it again (the outcome holds) but is never offered.
          if (target === 'revoked' && action === 'revoke') continue;
          const { w, caller, id } = await arrange(callerKind, target);
          const view = await w.service.execute('getKey', await w.callerOf(w.tenant.adminSecret), { id });
          const offered = allowedActions(caller, view, w.clock.read())[action];
          const taken = await w.service.execute(name, caller, { id, ...input }).then(
            () => true,
            () => false,
          );
          expect({ action, offered }).toEqual({ action, offered: taken });
        }
      });
    }
  }
});
