/**
 * What a name (of a key or an organization) may hold. Names are shown to people, in lists, logs and
 * confirmation prompts, so nothing in one may hide or disguise text: no control characters, no line
 * or paragraph separators (U+2028, U+2029), no format characters (zero-width U+200B–200F and U+2060–2064,
 * bidirectional overrides U+202A–202E and isolates U+2066–2069, U+FEFF), nothing of the tag block
 * (U+E0000–E007F), and at least one visible character. Zero-width joiners go too, which costs emoji
 * sequences like 👩‍💻 (shown as 👩 💻); a name must read the same everywhere.
 * Without zod, so the CLI can check --org before anything heavy loads.
 */
const FORBIDDEN = /[\p{Cc}\p{Cs}\p{Cf}\p{Zl}\p{Zp}\u{E0000}-\u{E007F}]/u;

/** Letters, marks and symbols that render as nothing: Hangul fillers, the braille blank, invisible Khmer vowels, the combining grapheme joiner. */
const BLANK_LOOKING = /[\u115F\u1160\u3164\uFFA0\u2800\u17B4\u17B5\u034F]/gu;
const VISIBLE = /[\p{L}\p{N}\p{P}\p{S}]/u;

/** Why a name (already trimmed) cannot be used, or undefined when it can. */
export function nameProblem(name: string): string | undefined {
  if (FORBIDDEN.test(name)) {
    return 'must not contain control or invisible characters (line separators, bidirectional overrides, zero-width or tag characters)';
  }
  if (!VISIBLE.test(name.replace(BLANK_LOOKING, ''))) return 'must contain a visible character';
  return undefined;
}
