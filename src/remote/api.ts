import type { KeyApi } from '../core/api.js';
import { DisperslError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { CreatedKey, KeyList, KeyView, RotatedKey, Whoami } from '../core/schemas.js';

export interface RemoteOptions {
  baseUrl: string;
  apiKey: string | undefined;
  logger: Logger;
  timeoutMs?: number;
}

/** The KeyApi over a dispersl-mcp server's REST API (remote mode). */
export class RemoteKeyApi implements KeyApi {
  constructor(private readonly options: RemoteOptions) {}

  private unavailable(): never {
    throw new DisperslError('INTERNAL_ERROR', `Remote mode (${this.options.baseUrl}) is not available in this version`);
  }

  listKeys(_input: unknown): Promise<KeyList> {
    return this.unavailable();
  }
  getKey(_input: unknown): Promise<KeyView> {
    return this.unavailable();
  }
  generateKey(_input: unknown): Promise<CreatedKey> {
    return this.unavailable();
  }
  revokeKey(_input: unknown): Promise<KeyView> {
    return this.unavailable();
  }
  rotateKey(_input: unknown): Promise<RotatedKey> {
    return this.unavailable();
  }
  updateKey(_input: unknown): Promise<KeyView> {
    return this.unavailable();
  }
  whoami(): Promise<Whoami> {
    return this.unavailable();
  }
  async permissions(): Promise<readonly string[] | undefined> {
    return undefined;
  }
}
