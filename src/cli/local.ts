import { Gate } from '../core/auth.js';
import { KeyService } from '../core/service.js';
import { SqliteStore } from '../store/sqlite.js';

/** The local composition: one database, one gate (limits) and one service, shared by every transport of a process. */
export interface Local {
  store: SqliteStore;
  gate: Gate;
  service: KeyService;
}

export function openLocal(dbPath: string): Local {
  const store = new SqliteStore(dbPath);
  return { store, gate: new Gate(store), service: new KeyService(store) };
}
