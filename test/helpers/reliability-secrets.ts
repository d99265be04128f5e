/**
 * Every token the product issues, with the one response allowed to carry it. Tests feed the ledger
 * what the product said (logs, audit rows, error bodies, other responses, database bytes) and ask
 * where a token shows up anywhere else.
 */
export class SecretLedger {
  private readonly issued = new Map<string, string>();

  record(token: string, origin: string): void {
    if (!/^pk_(live|test)_[0-9A-Za-z]{38}$/.test(token)) throw new Error(`not a token: ${token.slice(0, 12)}…`);
    this.issued.set(token, origin);
  }

  get size(): number {
    return this.issued.size;
  }

  /** Each (token, place) where an issued token appears in the given texts, none of which may be its origin. */
  leaks(places: Record<string, string>): string[] {
    // A token's 38 characters after its prefix: searched on their own too, in case a leak re-encoded what is around them.
    const byBody = new Map([...this.issued].map(([token, origin]) => [token.slice(8), { token, origin }]));
    const found = new Set<string>();
    for (const [place, text] of Object.entries(places)) {
      // One pass over each text: every run of base62 characters long enough to hold a token body.
      for (const run of text.matchAll(/[0-9A-Za-z]{38,}/g)) {
        for (let i = 0; i + 38 <= run[0].length; i++) {
          const hit = byBody.get(run[0].slice(i, i + 38));
          if (hit) found.add(`${hit.token.slice(0, 12)}… (issued by ${hit.origin}) found in ${place}`);
        }
      }
    }
    return [...found];
  }
}
