/** Normalized API failure: the HTTP status and the API server's own message, never a dump of the body. */
export class KubeApiError extends Error {
  readonly status: number;
  readonly reason: string;
  /** The client's verb ('apply', 'patch', ...), when known. */
  readonly verb: string | undefined;

  constructor(status: number, reason: string, message: string, verb?: string) {
    super(message);
    this.name = 'KubeApiError';
    this.status = status;
    this.reason = reason;
    this.verb = verb;
  }

  get isConflict(): boolean { return this.status === 409; }
  get isNotFound(): boolean { return this.status === 404; }
  /**
   * JSON patch `test` failed or the object changed under us: read again, do not back off long.
   * A 422 of a server-side apply is not that: the object is invalid (Istio's schema refused it),
   * and retrying it every 100 ms would only hammer the API server.
   */
  get isStale(): boolean { return this.status === 409 || (this.status === 422 && this.verb !== 'apply' && this.verb !== 'apply-status' && !this.isDenied); }
  /**
   * An admission webhook or a ValidatingAdmissionPolicy refused the request (their answers say
   * "denied"), or RBAC forbade it: the same request will be refused again until someone changes
   * the policy, the permissions or the Rollout.
   */
  get isRefused(): boolean {
    return this.status === 403 || ((this.status === 400 || this.status === 422) && this.isDenied);
  }
  private get isDenied(): boolean { return /\bdenied\b/i.test(this.message); }
}

export function toKubeError(err: unknown, verb?: string): unknown {
  const e = err as { code?: unknown; body?: unknown; message?: string };
  if (typeof e?.code !== 'number' || e.code < 100) return err;
  let body: { reason?: string; message?: string } = {};
  try {
    body = typeof e.body === 'string' ? JSON.parse(e.body) : ((e.body as typeof body) ?? {});
  } catch {
    body = { message: String(e.body).slice(0, 300) };
  }
  return new KubeApiError(e.code, body.reason ?? '', body.message ?? e.message ?? `HTTP ${e.code}`, verb);
}

export function isStatus(err: unknown, status: number): boolean {
  return err instanceof KubeApiError && err.status === status;
}

/** No usable kubeconfig, or a context that is not in it: a user's setup, not a fault of ours. */
export class KubeConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KubeConfigError';
  }
}
