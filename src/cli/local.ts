import type { AccessTokenVerifier } from '../core/access-tokens.js';
import { Gate } from '../core/auth.js';
import type { KeyStore } from '../core/store.js';
import { KeyService } from '../core/service.js';
import { openStore } from '../store/open.js';

/** The local composition: one store, one gate (limits) and one service, shared by every transport of a process. */
export interface Local {
  store: KeyStore;
  gate: Gate;
  service: KeyService;
}

export interface LocalOptions {
  /** serve: the OAuth access tokens the gate accepts beside keys (built here so it shares the store). */
  accessTokens?: (store: KeyStore) => AccessTokenVerifier;
  /** Days of usage buckets kept (DISPERSL_USAGE_DAYS). */
  usageDays?: number;
}

export async function openLocal(db: string, options: LocalOptions = {}): Promise<Local> {
  const store = await openStore(db);
  const { usageDays } = options;
  return {
    store,
    gate: new Gate(store, Date.now, { accessTokens: options.accessTokens?.(store), usageDays }),
    service: new KeyService(store, Date.now, undefined, { usageDays }),
  };
}
