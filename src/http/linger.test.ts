import { type Server, createServer } from 'node:http';
import { type AddressInfo, type Socket, connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type LingerOptions, lingerOnEarlyAnswers } from './linger.js';

const servers: Server[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve).closeAllConnections())));
});

/** A server that answers 413 and closes without reading the rest of the body, as the body limit does. */
async function refusingServer(linger?: LingerOptions): Promise<{ url: string; closed: Promise<void> }> {
  let closed: () => void = () => {};
  const connectionClosed = new Promise<void>((resolve) => (closed = resolve));
  const server = createServer((req, res) => {
    req.socket.once('close', closed);
    // Like the body limit on a declared length: refused without reading the body, a moment later.
    setTimeout(() => res.writeHead(413, { 'content-type': 'application/json', connection: 'close' }).end('{"error":{"type":"PAYLOAD_TOO_LARGE"}}'), 5);
  });
  if (linger) lingerOnEarlyAnswers(server, linger);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, closed: connectionClosed };
}

describe('lingering close after an early answer', () => {
  it('takes in the rest of the body, so a client that reads only once it has sent everything gets the answer', async () => {
    const { url, closed } = await refusingServer({});
    // More than loopback socket buffers hold: closing at once would fail this client's writing.
    const size = 12 * 1024 * 1024;
    const socket = rawPost(url, size);
    const sent = await writeAll(socket, size);
    expect(sent).toBe('sent everything');
    let answer = '';
    socket.setEncoding('utf8').on('data', (c: string) => (answer += c));
    const ended = new Promise((resolve) => socket.once('end', resolve));
    socket.resume();
    await Promise.all([ended, closed]);
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer).toMatch(/\r\nconnection: close\r\n/i);
    expect(answer).toContain('{"error":{"type":"PAYLOAD_TOO_LARGE"}}');
    socket.destroy();
  });

  it('closes the connection once it has discarded the most it will read', async () => {
    const { url, closed } = await refusingServer({ maxBytes: 64 * 1024 });
    const size = 64 * 1024 * 1024;
    // A client that writes its whole body before reading anything: 64 MiB cannot sit in socket
    // buffers, so its writing fails when the server stops taking it in.
    const socket = rawPost(url, size);
    socket.on('error', () => {});
    const writing = writeAll(socket, size);
    expect(['EPIPE', 'ECONNRESET']).toContain(await writing);
    await closed;
    socket.destroy();
  });

  it('closes a connection whose client stops sending, after the longest it waits', async () => {
    const { url, closed } = await refusingServer({ maxMs: 200 });
    const socket = rawPost(url, 1024 * 1024);
    socket.on('error', () => {});
    socket.write(Buffer.alloc(1024, 0x20));
    // It reads the answer and the server's FIN, but neither sends more nor hangs up.
    let answer = '';
    socket.setEncoding('utf8').on('data', (c: string) => (answer += c));
    const finSeen = new Promise((resolve) => socket.once('end', resolve));
    socket.resume();
    await Promise.all([closed, finSeen]);
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    socket.destroy();
  });
});

/** Writes `size` bytes of body as fast as the socket takes them; resolves with the error code that stopped it, if one did. */
function writeAll(socket: Socket, size: number): Promise<string> {
  return new Promise((resolve) => {
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let left = size;
    const pump = () => {
      while (left > 0 && !socket.destroyed) {
        left -= chunk.length;
        if (!socket.write(chunk)) return void socket.once('drain', pump);
      }
      if (left === 0) socket.write('', () => resolve('sent everything'));
    };
    pump();
  });
}

/** A connection that has sent a POST's headers announcing `size` bytes; it reads nothing unless resumed, and never hangs up by itself. */
function rawPost(url: string, size: number): Socket {
  const { port } = new URL(url);
  const socket = connect({ port: Number(port), host: '127.0.0.1', allowHalfOpen: true });
  socket.write(`POST / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Length: ${size}\r\n\r\n`);
  socket.pause();
  return socket;
}
