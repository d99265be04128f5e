import type { KeyApi } from '../core/api.js';
import type { OperationName, OperationResult } from '../core/operations/index.js';

/**
 * A KeyApi whose every call runs `answer`: the MCP tests use it to script what the service does
 * (succeed late, fail with a given error) without a database. Not shipped (see tsconfig.build.json).
 */
export class FakeKeyApi implements KeyApi {
  readonly calls: Array<{ method: string; input: unknown }> = [];

  constructor(
    private readonly answer: (method: string, input: unknown) => Promise<unknown>,
    private readonly granted: readonly string[] | undefined = undefined,
  ) {}

  call<N extends OperationName>(name: N, input?: unknown): Promise<OperationResult<N>> {
    this.calls.push({ method: name, input });
    return this.answer(name, input) as Promise<OperationResult<N>>;
  }

  async permissions(): Promise<readonly string[] | undefined> {
    return this.granted;
  }
}
