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
  // The store's clock decides the hour (the database's, where many machines share one); two flushes
  // at most wait on the store, so under load the batches grow rather than the commits (bench/RESULTS.md).
  const gate = new Gate(store, Date.now, { accessTokens: options.accessTokens?.(store), usageDays, storeClock: true, flushesInFlight: 2 });
  return { store, gate, service: new KeyService(store, Date.now, undefined, { usageDays }) };
}
