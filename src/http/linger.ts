import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** How much of an unread request body is read and thrown away after an early answer, at most. */
export const LINGER_MAX_BYTES = 16 * 1024 * 1024;
/** How long a connection is kept open to do so, at most. */
export const LINGER_MAX_MS = 5_000;

export interface LingerOptions {
  maxBytes?: number;
  maxMs?: number;
}

/**
 * A lingering close, as nginx and Go's net/http do it. When the server answers before it has read
 * the whole request body (a 413 for a body over the limit, a 401 before the body is read) and the
 * connection is to close, Node closes the socket at once. The client is still sending; the kernel
 * answers its next bytes with a reset, and a reset discards what the client had not read yet, so
 * the client sees EPIPE or ECONNRESET instead of the answer. Instead, such a connection sends its
 * answer and half-closes, then reads and discards the rest of the body (up to `maxBytes`, for up
 * to `maxMs`), and closes once the body has ended, the client has hung up, or a bound is reached.
 */
export function lingerOnEarlyAnswers(server: Server, { maxBytes = LINGER_MAX_BYTES, maxMs = LINGER_MAX_MS }: LingerOptions = {}): void {
  // First in line: a handler may answer synchronously, before a later listener would see the response.
  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    // 'prefinish' comes before Node's own 'finish' handler, which is where it closes the socket.
    res.once('prefinish', () => {
      if (!req.complete && !req.destroyed) linger(req, req.socket, maxBytes, maxMs);
    });
  });
}

/**
 * From the answer on, the rest of the body is read and thrown away, counted (left to Node, it
 * would be thrown away unseen). Node closes a connection it will not keep alive with
 * `socket.destroySoon()`: for this socket, that lingers instead while the body is still coming,
 * and later calls (the HTTP adapter's own drain giving up) do nothing more.
 */
function linger(req: IncomingMessage, socket: Socket, maxBytes: number, maxMs: number): void {
  let lingering = false;
  const close = () => socket.destroy();
  /** FIN after the answer, and close once the answer is out. */
  const closeWhenSent = () => {
    if (!socket.writableEnded) socket.end();
    if (socket.writableFinished) close();
    else socket.once('finish', close);
  };
  let discarded = 0;
  req.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > maxBytes) closeWhenSent();
  });
  req.resume();

  const original = socket.destroySoon;
  socket.destroySoon = function lingeringClose(this: Socket) {
    if (lingering) return;
    if (req.complete || req.destroyed || socket.destroyed) {
      original.call(this);
      return;
    }
    lingering = true;
    const timer = setTimeout(close, maxMs);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
    // The body has all come in, or the client has hung up: nothing is left to take in.
    req.once('end', closeWhenSent);
    socket.once('end', closeWhenSent);
    // The answer, then FIN: the client reads it while its remaining bytes are still taken in.
    socket.end();
  };
}
