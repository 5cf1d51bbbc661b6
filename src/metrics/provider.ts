/**
 * The boundary between analysis and a metrics backend: one PromQL instant query in, one number
 * (or, for queries that count several things at once, a vector of labelled numbers) out, or a
 * typed error saying why there is no number. The error kinds are exactly the ones the
 * judge's MetricObservation knows, so the analyzer can hand them on as they are.
 */
import type { MetricObservation } from '../analysis/judge.ts';

export interface QueryOptions {
  /** Cancels the query and any retry still pending; the promise then rejects with the signal's reason. */
  signal?: AbortSignal;
  /**
   * Evaluation time; default now (Prometheus's clock). Pass the same instant to related queries
   * (requests and errors of one subset, canary and stable) so they describe the same window.
   */
  time?: Date;
}

export interface MetricsProvider {
  /**
   * Runs an instant query that must give a single number. Rejects with a MetricsError, or with
   * the abort reason when `opts.signal` aborts.
   */
  query(promql: string, opts?: QueryOptions): Promise<number>;
  /**
   * Runs an instant query that gives a vector, e.g. a `sum by (label)`; no series is an empty
   * array, not an error. Same errors and retries as query().
   */
  queryVector(promql: string, opts?: QueryOptions): Promise<Sample[]>;
}

/** One series of an instant vector. */
export interface Sample {
  labels: Record<string, string>;
  value: number;
}

/** The judge's kinds of missing value (MetricObservation), so an error can be handed on as it is. */
export type MetricsErrorKind = Extract<MetricObservation, { error: string }>['error'];

/** Why a query gave no number. Messages never contain credentials. */
export class MetricsError extends Error {
  readonly kind: MetricsErrorKind;

  constructor(kind: MetricsErrorKind, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'MetricsError';
    this.kind = kind;
  }
}

/** An empty result: no series matched (yet). Inconclusive, never a failure. */
export class NoDataError extends MetricsError {
  constructor(message = 'no data: the query matched no series') {
    super('nodata', message);
    this.name = 'NoDataError';
  }
}

/** The query gave several series where one number was expected (usually a missing sum()). */
export class MultipleSeriesError extends MetricsError {
  readonly count: number;

  constructor(count: number, labelSets: Record<string, string>[]) {
    const shown = labelSets.slice(0, 3).map(formatLabels).join(', ');
    const more = count > 3 ? ` and ${count - 3} more` : '';
    super('multiple', `the query gave ${count} series where one number is needed (aggregate it, e.g. with sum()): ${shown}${more}`);
    this.name = 'MultipleSeriesError';
    this.count = count;
  }
}

/** Prometheus refused the query itself (bad PromQL, or an execution error): retrying will not help. */
export class QueryError extends MetricsError {
  /** Prometheus's errorType, e.g. bad_data or execution, when it gave one. */
  readonly errorType: string | undefined;

  constructor(message: string, errorType?: string) {
    super('query', message);
    this.name = 'QueryError';
    this.errorType = errorType;
  }
}

/** No answer from Prometheus: network, timeout, 5xx/429 after retries, auth or configuration problems. */
export class UnavailableError extends MetricsError {
  /** HTTP status when Prometheus (or a proxy) answered at all. */
  readonly status: number | undefined;
  /** Whether trying again later may help (network, timeout, 5xx, 429); false for 401/403/404 and bad credentials. */
  readonly transient: boolean;

  constructor(message: string, opts: { status?: number; transient: boolean; cause?: unknown }) {
    super('unavailable', message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = 'UnavailableError';
    this.status = opts.status;
    this.transient = opts.transient;
  }
}

/** Longest label name or value shown, and most labels shown, of a label set in a message. */
const LABEL_MAX = 100;
const LABELS_MAX = 10;

/**
 * `{a="1", b="2"}`, the way Prometheus prints a label set; what the server sent is bounded
 * (LABELS_MAX labels, LABEL_MAX characters each), since the message ends up in status.
 */
export function formatLabels(labels: Record<string, string>): string {
  const cut = (s: string) => (s.length > LABEL_MAX ? `${s.slice(0, LABEL_MAX)}...` : s);
  const entries = Object.entries(labels);
  const shown = entries.slice(0, LABELS_MAX).map(([k, v]) => `${cut(k)}=${JSON.stringify(cut(String(v)))}`);
  if (entries.length > LABELS_MAX) shown.push(`... ${entries.length - LABELS_MAX} more`);
  return `{${shown.join(', ')}}`;
}
