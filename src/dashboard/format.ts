
/** How the dashboard names times: UTC, to the minute, the same for every viewer. */
export function formatTime(iso: string | null, never = 'never'): string {
  if (iso === null) return never;
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

/** A span of seconds in words: 3600 → "1 hour". */
export function formatSeconds(seconds: number): string {
  const units: Array<[number, string]> = [
    [86_400, 'day'],
    [3_600, 'hour'],
    [60, 'minute'],
    [1, 'second'],
  ];
  for (const [size, name] of units) {
    if (seconds >= size && seconds % size === 0) {
      const n = seconds / size;
      return `${n} ${name}${n === 1 ? '' : 's'}`;
    }
  }
  return `${seconds} seconds`;
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}
