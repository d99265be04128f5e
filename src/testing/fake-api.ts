import type { KeyApi } from '../core/api.js';
import type { CreatedKey, KeyList, KeyView, RotatedKey, Whoami } from '../core/schemas.js';

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

  private run<T>(method: string, input: unknown): Promise<T> {
    this.calls.push({ method, input });
    return this.answer(method, input) as Promise<T>;
  }

  listKeys(input: unknown): Promise<KeyList> {
    return this.run('listKeys', input);
  }
  getKey(input: unknown): Promise<KeyView> {
    return this.run('getKey', input);
  }
  generateKey(input: unknown): Promise<CreatedKey> {
    return this.run('generateKey', input);
  }
  revokeKey(input: unknown): Promise<KeyView> {
    return this.run('revokeKey', input);
  }
  rotateKey(input: unknown): Promise<RotatedKey> {
    return this.run('rotateKey', input);
  }
  updateKey(input: unknown): Promise<KeyView> {
    return this.run('updateKey', input);
  }
  whoami(): Promise<Whoami> {
    return this.run('whoami', undefined);
  }
  async permissions(): Promise<readonly string[] | undefined> {
    return this.granted;
  }
}
