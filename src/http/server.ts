import type { AddressInfo, Socket } from 'node:net';
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import type { Hono } from 'hono';
import type { Logger } from '../core/log.js';
import type { AppEnv } from './env.js';
import { lingerOnEarlyAnswers } from './linger.js';

export interface ServerOptions {
  app: Hono<AppEnv>;
  host: string;
  port: number;
  logger: Logger;
  /** How long shutdown waits for in-flight requests before cutting the connections left (default 10 s). */
  drainTimeoutMs?: number;
  /** Open connections one client address may hold at once (default 256); more are closed as they arrive. */
  maxConnectionsPerAddress?: number;
}

export const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS = 256;

export interface RunningServer {
  url: string;
  port: number;
  /** Stops accepting, lets in-flight requests finish, then resolves. Safe to call twice. */
  close(): Promise<void>;
}

function urlOf(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export function startServer({
  app,
  host,
  port,
  logger,
  drainTimeoutMs = 10_000,
  maxConnectionsPerAddress = DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
}: ServerOptions): Promise<RunningServer> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, hostname: host, port }) as Server;
    // Slow or stalled clients must not hold a connection (and its memory) for long.
    server.requestTimeout = 30_000;
    server.headersTimeout = 15_000;
    capConnections(server, maxConnectionsPerAddress, logger);
    lingerOnEarlyAnswers(server);
    server.once('error', reject);
    server.once('listening', () => {
      server.off('error', reject);
      server.on('error', (err) => logger.error('http server error', { error: err.message }));
      const actual = (server.address() as AddressInfo).port;
      let closing: Promise<void> | undefined;
      resolve({
        url: urlOf(host, actual),
        port: actual,
        close: () => (closing ??= drain(server, drainTimeoutMs)),
      });
    });
  });
}

/**
 * A per-address cap on open connections. The timeouts above free a stalled socket only after tens
 * of seconds, so one client opening sockets and sending nothing could otherwise use up the process's
 * file descriptors and lock everyone out. Over the cap, a new connection is closed at once, before
 * any byte is read; the first refusal while an address is at its cap is logged.
 */
function capConnections(server: Server, max: number, logger: Logger): void {
  const open = new Map<string, number>();
  const logged = new Set<string>();
  server.on('connection', (socket: Socket) => {
    const address = (socket.remoteAddress ?? '').replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
    const count = open.get(address) ?? 0;
    if (count >= max) {
      socket.destroy();
      if (!logged.has(address)) {
        logged.add(address);
        logger.warn('connection refused: too many open connections from one address', { address, limit: max });
      }
      return;
    }
    open.set(address, count + 1);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left > 0) open.set(address, left);
      else open.delete(address);
      if (left < max) logged.delete(address);
    });
  });
}

/**
 * Graceful stop: the listening socket closes at once, idle keep-alive connections are closed,
 * and connections that are busy get closed as soon as their response is out. Past the timeout,
 * whatever is left is cut.
 */
function drain(server: Server, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const sweep = setInterval(() => server.closeIdleConnections(), 50);
    const deadline = setTimeout(() => server.closeAllConnections(), timeoutMs);
    deadline.unref();
    server.close(() => {
      clearInterval(sweep);
      clearTimeout(deadline);
      resolve();
    });
    server.closeIdleConnections();
  });
}
