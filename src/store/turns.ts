import type { StoreOps } from '../core/store.js';

/**
 * The order a store keeps among its own calls: while one of its transactions is open (it may span
 * several turns of the event loop), every other call waits for it to end, so nothing run meanwhile
 * joins it or reads what it has not committed; with none open, a call runs at once.
 */
export class Turns {
  /** Settles when the open transaction ends; undefined when none is open. */
  private open: Promise<unknown> | undefined;

  /** Runs fn now if no transaction is open, else once the open one (and any started after it) has ended. */
  whenFree<T>(fn: () => Promise<T>): Promise<T> {
    if (this.open === undefined) return fn();
    return this.open.then(
      () => this.whenFree(fn),
      () => this.whenFree(fn),
    );
  }

  /** Runs a transaction: `begin` starts it (synchronously up to its first wait) once free, and every other call waits for it. */
  exclusive<T>(begin: () => Promise<T>): Promise<T> {
    return this.whenFree(async () => {
      const run = begin();
      this.open = run;
      try {
        return await run;
      } finally {
        if (this.open === run) this.open = undefined;
      }
    });
  }

  /** Gives `store` each method of `ops`, taking its turn. */
  install(store: object, ops: StoreOps): void {
    for (const [name, method] of Object.entries(ops) as Array<[string, unknown]>) {
      if (typeof method !== 'function') continue;
      (store as Record<string, unknown>)[name] = (...args: unknown[]) => this.whenFree(() => (method as (...a: unknown[]) => Promise<unknown>).apply(ops, args));
    }
  }
}
