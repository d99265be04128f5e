import { Worker } from 'node:worker_threads';
import type { Logger } from '../core/log.js';
import type { SqliteStore } from '../store/sqlite.js';

export interface Checkpoints {
  /** A last checkpoint that empties the log, then the worker ends. Call after the store is closed. */
  stop(): Promise<void>;
}

const AUTO_CHECKPOINT_PAGES = 1000;

/**
 * SQLite checkpoints the write-ahead log from whichever connection commits past 1000 pages, and a
 * checkpoint fsyncs the log and the database: on the one thread that serves every request, that
 * is a stall of every request in flight (tens of milliseconds, far more on a busy disk). `serve`
 * commits on most event-loop turns, so it hands checkpoints to a worker thread with a connection
 * of its own. Should the worker fail, the serving connection checkpoints for itself again.
 */
export function checkpointInBackground(store: SqliteStore, path: string, logger: Logger, intervalMs = 250): Checkpoints {
  if (path === ':memory:') return { stop: async () => {} };
  const worker = new Worker(new URL('./checkpoint-worker.js', import.meta.url), { workerData: { path, intervalMs } });
  store.db.pragma('wal_autocheckpoint = 0');
  const fallBack = (why: string) => {
    logger.warn('background checkpoints stopped; checkpointing on the serving thread', { error: why });
    if (store.db.open) store.db.pragma(`wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`);
  };
  worker.on('message', (message: { error?: string }) => {
    if (message.error) logger.warn('checkpoint failed', { error: message.error });
  });
  let stopping = false;
  worker.once('error', (err) => fallBack(err.message));
  const exited = new Promise<void>((resolve) =>
    worker.once('exit', (code) => {
      if (!stopping && code === 0) fallBack('the worker ended');
      resolve();
    }),
  );
  return {
    stop() {
      stopping = true;
      worker.postMessage('stop');
      return exited;
    },
  };
}
