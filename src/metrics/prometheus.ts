/**
 * MetricsProvider over Prometheus's HTTP API (instant queries, /api/v1/query).
 *
 * - Each attempt has its own deadline (AbortSignal.timeout(timeoutMs)), and Prometheus is given
 *   a slightly shorter evaluation `timeout`, so an expensive query is cancelled server-side and
 *   reported as a timeout instead of running on after we stopped waiting.
 * - Transient failures (network, timeout, HTTP 5xx and 429) are retried with p-retry, by default
 *   twice after 200 ms and 1 s. A bad query (4xx, status error bad_data/execution) is never
 *   retried, nor an answer that will not change on retry (no data, several series, 401/403/404).
 *   Worst case before an UnavailableError: (retries + 1) × timeoutMs + 1.2 s.
 * - Queries longer than POST_THRESHOLD characters (URL-encoded) are POSTed as a form, which
 *   Prometheus accepts too, so long user queries do not hit URL length limits of proxies.
 * - Redirects are never followed: the configured address is the only one ever asked (a provider
 *   or allowed address could otherwise send the controller, and its credentials, elsewhere).
 * - An answer is read up to BODY_MAX_BYTES (after decompression) and dropped past it.
 * - Credentials are read once per query() (so a rotated mounted Secret is picked up), never
 *   logged, and redacted from every error message in case a proxy echoes them back.
 */
import { STATUS_CODES } from 'node:http';
import pRetry, { AbortError } from 'p-retry';
import {
  MetricsError, MultipleSeriesError, NoDataError, QueryError, UnavailableError,
  type MetricsProvider, type QueryOptions, type Sample,
} from './provider.ts';

export interface PrometheusAuth {
  type: 'bearer' | 'basic';
  /** bearer: the token; basic: `user:password`. Called at every query. */
  credentials: () => Promise<string>;
}

export interface PrometheusProviderOptions {
  /** Base URL, e.g. http://prometheus.monitoring:9090 or https://host/prometheus (no trailing slash needed). */
  address: string;
  /** Deadline of each attempt. */
  timeoutMs: number;
  auth?: PrometheusAuth;
  /** Retries after the first attempt, for transient errors only. Default 2. */
  retries?: number;
  /** For tests; default the global fetch. */
  fetch?: typeof fetch;
  /**
   * Called once per query() with the total time including retries, and the outcome: 'ok', a
   * MetricsError kind ('nodata', 'multiple', 'query', 'unavailable'), or 'aborted'.
   */
  onQuery?: (promql: string, ms: number, outcome: string) => void;
}

/** Longer (URL-encoded) queries are sent as a POST form. */
export const POST_THRESHOLD = 2000;
export const DEFAULT_RETRIES = 2;
/** Backoff before retry n: 200 ms, then 1 s (capped there for more retries). */
const BACKOFF = { minTimeout: 200, factor: 5, maxTimeout: 1000 } as const;
/**
 * The largest answer read, after decompression. Fledge's queries give a handful of series (the
 * traffic query: a few dozen histogram buckets, some kB); without a bound a server on an allowed
 * address could stream gigabytes into the controller's memory, which all namespaces share.
 */
export const BODY_MAX_BYTES = 16 * 1024 * 1024;
/** Prometheus's own error messages are short; a longer one is cut here. */
const ERROR_MAX = 500;
/** The errorType values of Prometheus's HTTP API (web/api/v1/api.go). */
const ERROR_TYPES = new Set(['timeout', 'canceled', 'execution', 'bad_data', 'internal', 'unavailable', 'not_found', 'not_acceptable']);

interface ApiSample { metric?: Record<string, string>; value?: [number, string] }
interface ApiBody {
  status?: unknown;
  errorType?: unknown;
  error?: unknown;
  data?: { resultType?: unknown; result?: unknown };
}

export class PrometheusProvider implements MetricsProvider {
  /** The address without trailing slashes or userinfo: safe to show. */
  readonly address: string;
  readonly #base: string;
  readonly #configError: string | undefined;
  readonly #timeoutMs: number;
  readonly #auth: PrometheusAuth | undefined;
  readonly #retries: number;
  readonly #fetch: typeof fetch;
  readonly #onQuery: PrometheusProviderOptions['onQuery'];

  constructor(opts: PrometheusProviderOptions) {
    const trimmed = opts.address.replace(/\/+$/, '');
    let configError: string | undefined;
    let shown = trimmed;
    try {
      const url = new URL(trimmed);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') configError = `the Prometheus address must be http:// or https://, not ${url.protocol}`;
      if (url.username || url.password) {
        url.username = '';
        url.password = '';
        shown = url.toString().replace(/\/+$/, '');
        configError = `the Prometheus address ${shown} must not contain credentials: configure them on the provider (auth.file)`;
      }
    } catch {
      shown = '(invalid address)';
      configError = 'the Prometheus address is not a valid URL';
    }
    if (!(opts.timeoutMs > 0)) throw new RangeError(`timeoutMs must be positive, got ${opts.timeoutMs}`);
    const retries = opts.retries ?? DEFAULT_RETRIES;
    if (!Number.isInteger(retries) || retries < 0) throw new RangeError(`retries must be a non-negative integer, got ${retries}`);
    this.address = shown;
    this.#base = trimmed;
    this.#configError = configError;
    this.#timeoutMs = opts.timeoutMs;
    this.#auth = opts.auth;
    this.#retries = retries;
    this.#fetch = opts.fetch ?? globalThis.fetch;
    this.#onQuery = opts.onQuery;
  }

  async query(promql: string, opts: QueryOptions = {}): Promise<number> {
    return this.#run(promql, opts, (data) => this.#number(data));
  }

  async queryVector(promql: string, opts: QueryOptions = {}): Promise<Sample[]> {
    return this.#run(promql, opts, (data) => this.#vector(data));
  }

  async #run<T>(promql: string, opts: QueryOptions, read: (data: ApiBody['data']) => T): Promise<T> {
    const started = performance.now();
    let outcome = 'ok';
    try {
      opts.signal?.throwIfAborted();
      if (this.#configError !== undefined) throw new UnavailableError(this.#configError, { transient: false });
      const { headers, secrets } = await this.#authorization();
      const redact = (s: string) => redactSecrets(s, secrets);
      return await pRetry(async () => read(await this.#attempt(promql, headers, redact, opts)), {
        retries: this.#retries,
        ...BACKOFF,
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
    } catch (err) {
      outcome = opts.signal?.aborted ? 'aborted' : err instanceof MetricsError ? err.kind : 'error';
      throw err;
    } finally {
      try {
        this.#onQuery?.(promql, performance.now() - started, outcome);
      } catch {
        // an observer must not change the query's outcome
      }
    }
  }

  async #authorization(): Promise<{ headers: Record<string, string>; secrets: string[] }> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (!this.#auth) return { headers, secrets: [] };
    let credentials: string;
    try {
      credentials = await this.#auth.credentials();
    } catch (err) {
      // CredentialsError names the file, never the content.
      throw new UnavailableError(err instanceof Error ? err.message : 'cannot read Prometheus credentials', { transient: false, cause: err });
    }
    if (this.#auth.type === 'bearer') {
      // Checked here: fetch's own error for a bad header value quotes the value.
      if (!/^[\x21-\x7e]+$/.test(credentials)) {
        throw new UnavailableError('the bearer token for Prometheus must be printable ASCII without spaces', { transient: false });
      }
      headers.authorization = `Bearer ${credentials}`;
      return { headers, secrets: [credentials] };
    }
    const colon = credentials.indexOf(':');
    if (colon < 0) throw new UnavailableError('basic credentials for Prometheus must have the form user:password', { transient: false });
    const encoded = Buffer.from(credentials, 'utf8').toString('base64');
    headers.authorization = `Basic ${encoded}`;
    const password = credentials.slice(colon + 1);
    return { headers, secrets: [credentials, encoded, ...(password ? [password] : [])] };
  }

  /** One HTTP exchange: the `data` of a successful answer, or a typed error. */
  async #attempt(promql: string, headers: Record<string, string>, redact: (s: string) => string, opts: QueryOptions): Promise<ApiBody['data']> {
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    const params = new URLSearchParams({ query: promql, timeout: prometheusTimeout(this.#timeoutMs) });
    if (opts.time) params.set('time', (opts.time.getTime() / 1000).toFixed(3));
    const form = params.toString();
    const url = `${this.#base}/api/v1/query`;
    const post = new URLSearchParams({ query: promql }).toString().length > POST_THRESHOLD;
    const doFetch = this.#fetch;

    let status: number;
    let contentType: string;
    let text: string | undefined;
    try {
      const res = post
        ? await doFetch(url, { method: 'POST', headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' }, body: form, signal, redirect: 'manual' })
        : await doFetch(`${url}?${form}`, { method: 'GET', headers, signal, redirect: 'manual' });
      status = res.status;
      contentType = res.headers.get('content-type') ?? '';
      text = await boundedText(res, BODY_MAX_BYTES);
    } catch (err) {
      if (opts.signal?.aborted) throw opts.signal.reason; // p-retry rejects with the reason anyway
      if (timeout.aborted) {
        throw new UnavailableError(`Prometheus at ${this.address} did not answer within ${this.#timeoutMs} ms`, { transient: true });
      }
      throw new UnavailableError(redact(`cannot reach Prometheus at ${this.address}: ${networkReason(err)}`), { transient: true });
    }
    if (text === undefined) {
      const what = `HTTP ${status}${STATUS_CODES[status] ? ` ${STATUS_CODES[status]}` : ''} (${mediaType(contentType)})`;
      throw new AbortError(new UnavailableError(`Prometheus at ${this.address} answered ${what} with more than ${BODY_MAX_BYTES / 1024 / 1024} MiB, which no instant query of Fledge's needs: not read`, { status, transient: false }));
    }
    return this.#interpret(status, contentType, text, redact);
  }

  /**
   * Nothing of a body is repeated in an error but Prometheus's own `error` field, and only from a
   * well-formed Prometheus error answer (JSON with status, errorType and error): any other answer
   * is described by its status code and content type alone. Otherwise any HTTP endpoint the
   * controller can reach (a cloud metadata service, an admin page) could be read through
   * `status.lastAnalysis.reason` by whoever can read a Rollout.
   */
  #interpret(status: number, contentType: string, text: string, redact: (s: string) => string): ApiBody['data'] {
    const body = prometheusBody(contentType, text);
    const transient = status >= 500 || status === 429;

    if (body?.status === 'error') {
      const errorType = body.errorType as string;
      const detail = redact(printable(body.error as string));
      if (errorType === 'bad_data' || errorType === 'execution' || status === 400 || status === 422) {
        throw new AbortError(new QueryError(`Prometheus rejected the query (${errorType}): ${detail}`, errorType));
      }
      const retryable = transient || errorType === 'timeout' || errorType === 'canceled' || errorType === 'unavailable' || errorType === 'internal';
      const err = new UnavailableError(`Prometheus at ${this.address} failed (${errorType}, HTTP ${status}): ${detail}`, { status, transient: retryable });
      throw retryable ? err : new AbortError(err);
    }
    if (body?.status === 'success' && status >= 200 && status < 300) return body.data;

    const what = `HTTP ${status}${STATUS_CODES[status] ? ` ${STATUS_CODES[status]}` : ''} (${mediaType(contentType)})`;
    if (transient) throw new UnavailableError(`Prometheus at ${this.address} answered ${what}`, { status, transient: true });
    const hint = status >= 300 && status < 400 ? ' (a redirect, which is never followed: configure the address it points to)'
      : status === 401 || status === 403 ? ' (the provider\'s credentials are refused: ask the platform team)'
      : status === 404 ? ' (is the address the Prometheus server, including any path prefix?)'
      : '';
    const message = status >= 200 && status < 300
      ? `Prometheus at ${this.address} answered ${what}, which is not the Prometheus query API's JSON (is the address a Prometheus server?)`
      : `Prometheus at ${this.address} answered ${what}${hint}`;
    throw new AbortError(new UnavailableError(message, { status, transient: false }));
  }

  #number(data: ApiBody['data']): number {
    const resultType = data?.resultType;
    const result = data?.result;
    if (resultType === 'vector' && Array.isArray(result)) {
      const samples = result as ApiSample[];
      if (samples.length === 0) throw new AbortError(new NoDataError());
      if (samples.length > 1) throw new AbortError(new MultipleSeriesError(samples.length, samples.map((s) => s.metric ?? {})));
      return this.#sample(samples[0]?.value?.[1]);
    }
    if (resultType === 'scalar' && Array.isArray(result)) return this.#sample((result as unknown[])[1]);
    return this.#notInstant(resultType);
  }

  #vector(data: ApiBody['data']): Sample[] {
    const resultType = data?.resultType;
    const result = data?.result;
    if (resultType === 'vector' && Array.isArray(result)) {
      return (result as ApiSample[]).map((s) => ({ labels: s.metric ?? {}, value: this.#sample(s.value?.[1]) }));
    }
    if (resultType === 'scalar' && Array.isArray(result)) return [{ labels: {}, value: this.#sample((result as unknown[])[1]) }];
    return this.#notInstant(resultType);
  }

  #notInstant(resultType: unknown): never {
    if (resultType === 'matrix') {
      throw new AbortError(new QueryError('the query gives a range vector; an instant query must give one number: drop the [range] or wrap it in a function such as rate() or increase()'));
    }
    if (resultType === 'string') throw new AbortError(new QueryError('the query gives a string, not a number'));
    throw new AbortError(new UnavailableError(`Prometheus at ${this.address} answered with a result that is not an instant vector or scalar`, { transient: false }));
  }

  #sample(raw: unknown): number {
    const value = typeof raw === 'string' ? parseSampleValue(raw) : undefined;
    if (value === undefined) {
      throw new AbortError(new UnavailableError(`Prometheus at ${this.address} answered with a malformed sample value`, { transient: false }));
    }
    return value;
  }
}

/**
 * The body as the Prometheus query API's JSON: a success, or an error whose errorType is one
 * Prometheus uses and whose error is a string. Anything else (plain text, HTML, JSON of another
 * shape) is undefined: not Prometheus, and never to be quoted.
 */
function prometheusBody(contentType: string, text: string): ApiBody | undefined {
  if (!/^application\/json\b/i.test(contentType.trim())) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  const body = parsed as ApiBody;
  if (body.status === 'success') return typeof body.data === 'object' && body.data !== null ? body : undefined;
  if (body.status === 'error' && typeof body.errorType === 'string' && ERROR_TYPES.has(body.errorType) && typeof body.error === 'string') return body;
  return undefined;
}

/**
 * The body as text, or undefined (and the rest cancelled, the connection dropped) once it is
 * longer than `max` bytes, or says in Content-Length that it will be.
 */
async function boundedText(res: Response, max: number): Promise<string | undefined> {
  if (Number(res.headers.get('content-length') ?? 0) > max) {
    await res.body?.cancel().catch(() => undefined);
    return undefined;
  }
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
  return new TextDecoder().decode(Buffer.concat(chunks));
}

/** The media type of a Content-Type header, if it looks like one; never other header text. */
function mediaType(contentType: string): string {
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  if (type === '') return 'no content type';
  return /^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$/.test(type) ? type : 'an unrecognised content type';
}

/** One line, printable, at most ERROR_MAX characters. */
function printable(s: string): string {
  const line = s.replace(/[\p{Cc}\p{Cf}]+/gu, ' ').replace(/\s+/g, ' ').trim();
  return line.length > ERROR_MAX ? `${line.slice(0, ERROR_MAX)}...` : line;
}

/** Prometheus's sample encoding: decimal, "NaN", "+Inf", "-Inf". */
export function parseSampleValue(raw: string): number | undefined {
  if (raw === 'NaN') return Number.NaN;
  if (raw === '+Inf' || raw === 'Inf') return Infinity;
  if (raw === '-Inf') return -Infinity;
  if (raw.trim() === '') return undefined;
  const n = Number(raw);
  return Number.isNaN(n) ? undefined : n;
}

/** Prometheus's evaluation timeout: 90 % of ours, so it gives up (and says so) before we do. */
function prometheusTimeout(timeoutMs: number): string {
  return `${Math.max(1, Math.floor(timeoutMs * 0.9))}ms`;
}

function networkReason(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return code && !cause.message.includes(code) ? `${code} ${cause.message}` : cause.message || code || err.message;
  }
  return err.message;
}

function redactSecrets(s: string, secrets: string[]): string {
  let out = s;
  for (const secret of secrets) if (secret) out = out.split(secret).join('<redacted>');
  return out;
}
