/**
 * The token endpoint answers in RFC 6749 §5.2 form, not with the product's error envelope: OAuth
 * clients (the MCP SDK among them) parse `error` and `error_description`.
 */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'unsupported_response_type'
  | 'invalid_scope'
  | 'invalid_target'
  | 'server_error';

export interface OAuthErrorBody {
  error: OAuthErrorCode;
  error_description: string;
}

export function oauthStatus(code: OAuthErrorCode): number {
  switch (code) {
    case 'invalid_client':
      return 401;
    case 'server_error':
      return 500;
    case 'invalid_request':
    case 'invalid_grant':
    case 'unauthorized_client':
    case 'unsupported_grant_type':
    case 'unsupported_response_type':
    case 'invalid_scope':
    case 'invalid_target':
      return 400;
  }
}

export class OAuthError extends Error {
  constructor(
    readonly code: OAuthErrorCode,
    readonly description: string,
  ) {
    super(description);
    this.name = 'OAuthError';
  }

  get status(): number {
    return oauthStatus(this.code);
  }

  toBody(): OAuthErrorBody {
    return { error: this.code, error_description: this.description };
  }
}
