import { afterEach, beforeEach } from 'vitest';
import { type ConnectOptions, type Session, Sessions } from './mcp-client.js';
import { type Sandbox, sandbox } from './sandbox.js';

export interface Workspace {
  /** This test's sandbox (database, HOME). */
  readonly box: Sandbox;
  /** A stdio server on the sandbox's database with the SDK client connected; closed after the test. */
  connect(options?: ConnectOptions): Promise<Session>;
}

/** A fresh sandbox for each test of the file, removed with every server it started once the test ends. */
export function useWorkspace(): Workspace {
  let current: Sandbox | undefined;
  const sessions = new Sessions();
  beforeEach(() => {
    current = sandbox();
  });
  afterEach(async () => {
    await sessions.closeAll();
    current?.remove();
    current = undefined;
  });
  const box = (): Sandbox => {
    if (!current) throw new Error('the workspace exists only while a test runs');
    return current;
  };
  return {
    get box() {
      return box();
    },
    connect: (options) => sessions.connect(box(), options),
  };
}
