import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

/**
 * Runs on a worker thread of `serve`: checkpoints the SQLite write-ahead log on a timer, on its
 * own connection, so the fsyncs a checkpoint makes never stall the thread that answers requests.
 */
const { path, intervalMs } = workerData as { path: string; intervalMs: number };
const db = new Database(path);
db.pragma('busy_timeout = 5000');
// After a checkpoint resets the log, this bounds what stays on disk (as the serving connection does).
db.pragma('journal_size_limit = 4194304');

function checkpoint(mode: 'PASSIVE' | 'TRUNCATE'): void {
  try {
    db.pragma(`wal_checkpoint(${mode})`);
  } catch (err) {
    parentPort?.postMessage({ error: err instanceof Error ? err.message : String(err) });
  }
}

const timer = setInterval(() => checkpoint('PASSIVE'), intervalMs);

parentPort?.once('message', () => {
  clearInterval(timer);
  checkpoint('TRUNCATE');
  db.close();
  parentPort?.close();
});
