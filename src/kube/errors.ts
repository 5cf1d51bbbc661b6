/** Normalized API failure: the HTTP status and the API server's own message, never a dump of the body. */
export class KubeApiError extends Error {
  readonly status: number;
  readonly reason: string;

  constructor(status: number, reason: string, message: string) {
    super(message);
    this.name = 'KubeApiError';
    this.status = status;
    this.reason = reason;
  }

  get isConflict(): boolean { return this.status === 409; }
  get isNotFound(): boolean { return this.status === 404; }
  /** JSON patch `test` failed or the object changed under us: read again, do not back off long. */
  get isStale(): boolean { return this.status === 409 || this.status === 422; }
}

export function toKubeError(err: unknown): unknown {
  const e = err as { code?: unknown; body?: unknown; message?: string };
  if (typeof e?.code !== 'number' || e.code < 100) return err;
  let body: { reason?: string; message?: string } = {};
  try {
    body = typeof e.body === 'string' ? JSON.parse(e.body) : ((e.body as typeof body) ?? {});
  } catch {
    body = { message: String(e.body).slice(0, 300) };
  }
  return new KubeApiError(e.code, body.reason ?? '', body.message ?? e.message ?? `HTTP ${e.code}`);
}

export function isStatus(err: unknown, status: number): boolean {
  return err instanceof KubeApiError && err.status === status;
}
