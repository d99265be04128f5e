/**
 * Structured JSON lines on stderr (stdout belongs to the MCP protocol over stdio).
 * A few lines of our own instead of a logging library: every IDE launch pays for start-up.
 * Callers log a token's `start` at most, never a token.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** Whether a line at this level is written: lets a caller skip building one that would be dropped. */
  enabled(at: Exclude<LogLevel, 'silent'>): boolean;
}

export function createLogger(level: LogLevel = 'info', write: (line: string) => void = (line) => process.stderr.write(line)): Logger {
  const enabled = (at: Exclude<LogLevel, 'silent'>) => RANK[at] >= RANK[level];
  const emit = (at: Exclude<LogLevel, 'silent'>) => (msg: string, fields?: LogFields) => {
    if (!enabled(at)) return;
    write(`${JSON.stringify({ time: new Date().toISOString(), level: at, msg, ...fields })}\n`);
  };
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error'), enabled };
}

export const silentLogger: Logger = createLogger('silent');
