/**
 * dispersl-mcp/verify: put your own API behind dispersl-mcp keys and limits. A verifier asks the
 * server (POST /v1/keys/verify) with a key holding keys:verify; the guards answer refusals with the
 * same envelope and headers as dispersl-mcp's own API.
 */
export { type Verifier, type VerifierOptions, type VerifyOptions, type VerifyResult, type VerifiedKey, VerifierError, createVerifier } from './client.js';
export { type GuardOptions, type GuardOutcome, expressGuard, guardRequest, honoGuard, refusal } from './middleware.js';
