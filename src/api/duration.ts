/** Go-style durations as Kubernetes users write them: `500ms`, `30s`, `1m`, `1h30m`. */
export const DURATION_PATTERN = '^([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?$';
const DURATION_RE = new RegExp(DURATION_PATTERN);
const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };

/** Milliseconds, or undefined when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  if (text === '' || !DURATION_RE.test(text)) return undefined;
  let total = 0;
  for (const [, n, unit] of text.matchAll(/([0-9]+)(ms|h|m|s)/g)) {
    total += Number(n) * (UNIT_MS[unit as string] ?? 0);
  }
  return Number.isSafeInteger(total) ? total : undefined;
}

export function formatDuration(ms: number): string {
  if (ms <= 0) return '0s';
  const parts: string[] = [];
  let rest = Math.round(ms);
  for (const [unit, size] of [['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) parts.push(`${n}${unit}`);
    rest -= n * size;
  }
  if (rest > 0) parts.push(`${rest}ms`);
  return parts.join('');
}
