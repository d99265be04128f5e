import { type Admission, type Caller, type Credential, type Gate } from '../core/auth.js';
import { LocalKeyApi } from '../core/api.js';
import type { Window } from '../core/limits.js';
import type { KeyService } from '../core/service.js';
import type { OperationName } from '../core/operations/index.js';
import type { KeyView } from '../core/schemas.js';

/**
 * The KeyApi of one MCP-over-HTTP request. The request has already been authenticated: either
 * peeked (free; its caller answers permissions() without a second lookup), or, for a lone
 * tools/call, admitted and charged up front, in which case that admission serves the tool's one
 * operation instead of a second pass through the gate. It remembers the last window it saw, for
 * the response's rate-limit headers.
 */
export class HttpKeyApi extends LocalKeyApi {
  window: Window | undefined;
  private admitted: Admission | undefined;

  constructor(
    gate: Gate,
    service: KeyService,
    credential: Credential,
    private readonly known: Caller | undefined,
    admitted?: Admission,
  ) {
    super(gate, service, credential);
    this.admitted = admitted;
    this.window = (admitted?.caller ?? known)?.window;
  }

  protected override async run<T>(fn: (caller: Caller) => Promise<T>): Promise<T> {
    const admitted = this.admitted;
    if (admitted === undefined) {
      return super.run((caller) => {
        this.window = caller.window;
        return fn(caller);
      });
    }
    this.admitted = undefined;
    try {
      return await fn(admitted.caller);
    } finally {
      admitted.release();
    }
  }

  override async permissions(): Promise<readonly string[] | undefined> {
    return (this.known ?? this.admitted?.caller)?.key.permissions ?? super.permissions();
  }

  /** The request was peeked (a call that asks first): its caller answers without a second lookup. */
  override async preview(name: OperationName, input?: unknown): Promise<KeyView> {
    const caller = this.known ?? this.admitted?.caller;
    return caller === undefined ? super.preview(name, input) : this.service.preview(name, caller, input);
  }

  /** Frees an up-front admission that no operation used (the call failed before reaching the service). */
  release(): void {
    this.admitted?.release();
    this.admitted = undefined;
  }
}
