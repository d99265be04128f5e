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
    const found: string[] = [];
    for (const [token, origin] of this.issued) {
      for (const [place, text] of Object.entries(places)) {
        // The body of a token (without its prefix) is searched too: a leak may have been re-encoded around it.
        if (text.includes(token) || text.includes(token.slice(8))) found.push(`${token.slice(0, 12)}… (issued by ${origin}) found in ${place}`);
      }
    }
    return found;
  }
}
