import type { Caller, Credential, Gate } from './auth.js';
import type { CreatedKey, KeyList, KeyView, RotatedKey, Whoami } from './schemas.js';
import type { KeyService } from './service.js';

/**
 * The key operations as one caller sees them. MCP tools talk only to this, so the same tools
 * run against the local database (LocalKeyApi) or a remote server's REST API (remote mode).
 * Inputs are raw: the implementation validates them and throws the contract's errors.
 */
export interface KeyApi {
  listKeys(input: unknown): Promise<KeyList>;
  getKey(input: unknown): Promise<KeyView>;
  generateKey(input: unknown): Promise<CreatedKey>;
  revokeKey(input: unknown): Promise<KeyView>;
  rotateKey(input: unknown): Promise<RotatedKey>;
  updateKey(input: unknown): Promise<KeyView>;
  whoami(input?: unknown): Promise<Whoami>;
  /** The caller's permissions, charging nothing; undefined when they cannot be known for free. */
  permissions(): Promise<readonly string[] | undefined>;
}

/** Each call passes the gate (and is charged one request), then runs one service method. */
export class LocalKeyApi implements KeyApi {
  constructor(
    private readonly gate: Gate,
    private readonly service: KeyService,
    private readonly credential: Credential,
  ) {}

  protected async run<T>(fn: (caller: Caller) => T): Promise<T> {
    const admission = await this.gate.admit(this.credential);
    try {
      return fn(admission.caller);
    } finally {
      admission.release();
    }
  }

  listKeys(input: unknown): Promise<KeyList> {
    return this.run((caller) => this.service.list(caller, input));
  }

  getKey(input: unknown): Promise<KeyView> {
    return this.run((caller) => this.service.get(caller, input));
  }

  generateKey(input: unknown): Promise<CreatedKey> {
    return this.run((caller) => this.service.generate(caller, input));
  }

  revokeKey(input: unknown): Promise<KeyView> {
    return this.run((caller) => this.service.revoke(caller, input));
  }

  rotateKey(input: unknown): Promise<RotatedKey> {
    return this.run((caller) => this.service.rotate(caller, input));
  }

  updateKey(input: unknown): Promise<KeyView> {
    return this.run((caller) => this.service.update(caller, input));
  }

  whoami(input?: unknown): Promise<Whoami> {
    return this.run((caller) => this.service.whoami(caller, input));
  }

  async permissions(): Promise<readonly string[] | undefined> {
    try {
      return (await this.gate.peek(this.credential)).key.permissions;
    } catch {
      // A missing or bad key shows every tool; the first call then answers the error with its hint.
      return undefined;
    }
  }
}
