import type { Readable, Writable } from 'node:stream';
import { JSONRPC, type McpContext, rpcError } from './protocol.js';

/** What answers one message: the legacy dispatcher, or StdioEras, which pins the connection's era. */
export interface MessageHandler {
  handle(message: unknown, context: McpContext): Promise<unknown>;
  /** Given the way to write a message, for requests of the server's own (elicitation/create). */
  connect?(send: (message: unknown) => void): void;
  /** The input ended. */
  disconnect?(): void;
}

const MAX_LINE = 4 * 1024 * 1024;

/**
 * MCP's stdio transport: one JSON-RPC message per line each way. Streams are injected so tests
 * need no process. stdout carries protocol messages and nothing else.
 */
export function serveStdio(dispatcher: MessageHandler, context: McpContext, input: Readable, output: Writable, onFirstAnswer?: () => void): Promise<void> {
  let buffer = '';
  let answered = false;
  const inFlight = new Set<Promise<void>>();
  const send = (message: unknown) => {
    output.write(`${JSON.stringify(message)}\n`);
    if (!answered) {
      answered = true;
      onFirstAnswer?.();
    }
  };
  dispatcher.connect?.(send);
  const handleLine = (line: string) => {
    if (line.trim() === '') return;
    let message: unknown;
    try {
      message = JSON.parse(line);
    } catch {
      send(rpcError(null, JSONRPC.PARSE_ERROR, 'Parse error: a line is not valid JSON'));
      return;
    }
    const messages = Array.isArray(message) ? message : [message];
    // Requests run concurrently and each is answered when ready; a batch answers as one line.
    const done = Promise.all(messages.map((m) => dispatcher.handle(m, context))).then((answers) => {
      const results = answers.filter((r) => r !== undefined);
      if (results.length > 0) send(Array.isArray(message) ? results : results[0]);
    });
    inFlight.add(done);
    void done.finally(() => inFlight.delete(done));
  };
  // An oversized message is refused once; the rest of its line, however it arrives, is dropped.
  let discarding = false;
  const tooLarge = () => send(rpcError(null, JSONRPC.INVALID_REQUEST, 'Invalid Request: message too large'));
  input.setEncoding('utf8');
  input.on('data', (chunk: string) => {
    buffer += chunk;
    let newline = buffer.indexOf('\n');
    while (newline !== -1) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      if (discarding) discarding = false;
      else if (line.length > MAX_LINE) tooLarge();
      else handleLine(line);
      newline = buffer.indexOf('\n');
    }
    if (buffer.length > MAX_LINE) {
      buffer = '';
      if (!discarding) tooLarge();
      discarding = true;
    }
  });
  return new Promise((resolve) => {
    const finish = () => {
      // A last message may come without its newline before the input closes.
      if (!discarding) handleLine(buffer);
      buffer = '';
      dispatcher.disconnect?.();
      void Promise.allSettled([...inFlight]).then(() => resolve());
    };
    input.once('end', finish);
  });
}
