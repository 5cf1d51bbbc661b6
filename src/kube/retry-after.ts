/**
 * When to retry a request the API server throttled, and after how long. Pure: no clock of its own,
 * no I/O; `KubeClient.call()` does the waiting.
 *
 * A 429 is what API Priority and Fairness (and the older max-in-flight filter, and an API server
 * that is starting or shutting down) answers when it sheds load: it rejects the request *before*
 * handling it, so sending the same request again is safe whatever the verb. client-go retries it
 * after the server's `Retry-After`; so do we.
 */

/** Bounds on the wait, in milliseconds. */
export interface RetryAfterPolicy {
  /** The wait for a 429 without a usable Retry-After (missing, garbage, negative). */
  defaultMs: number;
  /** No wait is shorter: a "Retry-After: 0" or a date in the past must not become a hot loop against an overloaded server. */
  minMs: number;
  /** No wait is longer, whatever the server asks: past this, the workqueue's per-key back-off is the better tool. */
  maxMs: number;
}

/**
 * 1 s is what kube-apiserver itself sends on a 429 (and the unit of the header), so it is both the
 * default and the floor. 10 s caps a single wait: five of those (the client's default retry count)
 * hold a reconcile for at most ~50 s before the error reaches the per-key back-off.
 */
export const DEFAULT_RETRY_AFTER: RetryAfterPolicy = { defaultMs: 1_000, minMs: 1_000, maxMs: 10_000 };

const DELAY_SECONDS = /^\d+$/;
// RFC 9110 §5.6.7 IMF-fixdate, the only HTTP-date form a sender may generate.
const IMF_FIXDATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;

/**
 * A Retry-After value (RFC 9110 §10.2.3: `delay-seconds / HTTP-date`) as the milliseconds the
 * server asked for, or undefined when it is absent or not valid.
 *
 * - delay-seconds is `1*DIGIT`: "1.5", "-1", "1s" are not valid (client-go's Atoi would take "-1"
 *   and sleep 0; we ignore it instead and fall back to the default).
 * - An IMF-fixdate counts from `now` (a date in the past is 0). The obsolete RFC 850 and asctime
 *   forms are treated as invalid: no API server or proxy we know sends them.
 * - Not clamped here: see `throttleDelayMs`.
 */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (DELAY_SECONDS.test(v)) return Number(v) * 1000; // a huge value may be Infinity: clamped by the caller
  if (IMF_FIXDATE.test(v)) {
    const at = Date.parse(v);
    return Number.isNaN(at) ? undefined : Math.max(0, at - now);
  }
  return undefined;
}

/**
 * One header of a response, by name and case-insensitively, from what client-node's ApiException
 * carries in `headers`: a plain object (client-node 2.x copies fetch's Headers into one, with
 * lower-case names), or anything with a `get(name)` (a Fetch Headers), or a Node header record
 * whose value may be an array.
 */
export function headerValue(headers: unknown, name: string): string | undefined {
  if (!headers || typeof headers !== 'object') return undefined;
  const h = headers as { get?: unknown } & Record<string, unknown>;
  if (typeof h.get === 'function') {
    const v: unknown = (h.get as (n: string) => unknown).call(headers, name);
    return typeof v === 'string' ? v : undefined;
  }
  const want = name.toLowerCase();
  for (const [k, v] of Object.entries(h)) {
    if (k.toLowerCase() !== want) continue;
    if (typeof v === 'string') return v;
    if (Array.isArray(v) && typeof v[0] === 'string') return v[0];
    return undefined;
  }
  return undefined;
}

/**
 * How long to wait before sending a failed request again, or undefined: do not retry it here.
 *
 * - 429: always, after the server's Retry-After, or `defaultMs` when it gave none usable (the
 *   header is optional, and a proxy in front of the API server may leave it out).
 * - 503 only with a valid Retry-After: the server says it will take the request later. A bare 503
 *   (a proxy's, an aggregated API that is down) is not retried here.
 * - Anything else (409, 422, 500, 504 "may still be processing" ...): never.
 *
 * The wait is clamped to [minMs, maxMs].
 */
export function throttleDelayMs(status: number, headers: unknown, now: number, policy: RetryAfterPolicy = DEFAULT_RETRY_AFTER): number | undefined {
  if (status !== 429 && status !== 503) return undefined;
  const asked = parseRetryAfter(headerValue(headers, 'retry-after'), now);
  if (asked === undefined && status === 503) return undefined;
  return Math.min(policy.maxMs, Math.max(policy.minMs, asked ?? policy.defaultMs));
}
