/**
 * Requests this server sends to the client over stdio (earlier revisions' elicitation/create), and
 * the matching of the client's responses to them. The stdio loop hands every message here first; a
 * response to one of ours settles it and goes no further.
 */

/** A human answers in minutes, not seconds; past this the question is dropped (and counts as cancelled). */
const ANSWER_TIMEOUT_MS = 10 * 60_000;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export class ClientRequestError extends Error {}

export class Outbound {
  private next = 0;
  private readonly pending = new Map<string, { resolve(result: unknown): void; reject(err: Error): void; timer: NodeJS.Timeout }>();
  private send: ((message: unknown) => void) | undefined;

  constructor(private readonly timeoutMs: number = ANSWER_TIMEOUT_MS) {}

  connect(send: (message: unknown) => void): void {
    this.send = send;
  }

  /** Sends a request to the client; resolves with its result, rejects with its error, a timeout or the connection's end. */
  request(method: string, params: Record<string, unknown>): Promise<unknown> {
    const send = this.send;
    if (send === undefined) return Promise.reject(new ClientRequestError('not connected'));
    const id = `dispersl-${++this.next}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ClientRequestError(`${method}: no answer in time`));
      }, this.timeoutMs);
      timer.unref();
      this.pending.set(id, { resolve, reject, timer });
      send({ jsonrpc: '2.0', id, method, params });
    });
  }

  /** True when the message answered one of our requests (and is now settled). */
  settle(message: unknown): boolean {
    if (!isObject(message) || 'method' in message || typeof message.id !== 'string') return false;
    const waiting = this.pending.get(message.id);
    if (waiting === undefined) return false;
    this.pending.delete(message.id);
    clearTimeout(waiting.timer);
    if (isObject(message.error)) waiting.reject(new ClientRequestError(String(message.error.message ?? 'the client refused')));
    else waiting.resolve(message.result);
    return true;
  }

  /** The connection ended: every question still open is dropped. */
  close(): void {
    for (const [id, waiting] of this.pending) {
      clearTimeout(waiting.timer);
      waiting.reject(new ClientRequestError('the connection closed'));
      this.pending.delete(id);
    }
  }
}
