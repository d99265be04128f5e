import type { Caller, Credential, Gate } from './auth.js';
import type { OperationName, OperationResult } from './operations/index.js';
import type { KeyView } from './schemas.js';
import type { KeyService, SealSecret } from './service.js';

/**
 * The key operations as one caller sees them. MCP tools talk only to this, so the same tools run
 * against the local database (LocalKeyApi) or a remote server's REST API (remote mode). Inputs are
 * raw: the implementation validates them and throws the contract's errors.
 */
export interface KeyApi {
  /**
   * Runs one operation of src/core/operations by name. `reveal` (an operation that makes a secret, on
   * the local database only) stores the secret sealed for one reveal in the key's own transaction.
   */
  call<N extends OperationName>(name: N, input?: unknown, reveal?: SealSecret): Promise<OperationResult<N>>;
  /** The caller's permissions, charging nothing; undefined when they cannot be known for free. */
  permissions(): Promise<readonly string[] | undefined>;
  /** The key an operation would act on, checked but not run and not charged: what a confirmation shows the human. */
  preview?(name: OperationName, input?: unknown): Promise<KeyView>;
}

/** Each call passes the gate (and is charged one request), then runs one operation. */
export class LocalKeyApi implements KeyApi {
  constructor(
    protected readonly gate: Gate,
    protected readonly service: KeyService,
    protected readonly credential: Credential,
  ) {}

  call<N extends OperationName>(name: N, input?: unknown, reveal?: SealSecret): Promise<OperationResult<N>> {
    return this.run((caller) => this.service.execute(name, caller, input, reveal));
  }

  protected async run<T>(fn: (caller: Caller) => Promise<T>): Promise<T> {
    const admission = await this.gate.admit(this.credential);
    try {
      return await fn(admission.caller);
    } finally {
      admission.release();
    }
  }

  async preview(name: OperationName, input?: unknown): Promise<KeyView> {
    return this.service.preview(name, await this.gate.peek(this.credential), input);
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
