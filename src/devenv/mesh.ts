/**
 * A fake Istio data plane for one service with several versions (stable/canary). It serves the
 * series Envoy sidecars export, so a real Prometheus can scrape them and run the exact PromQL
 * that production analysis runs. Load is synthetic (timers bump the counters); `GET /` also
 * answers real HTTP so a demo can show traffic being shifted.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Histogram, Registry } from 'prom-client';
import { OK_CODE, ERROR_CODE, NO_RESPONSE_CODE, RateAccumulator, TrafficModel, type SyntheticRequest, type VersionBehaviour } from './traffic.ts';

export type { VersionBehaviour } from './traffic.ts';
export { LATENCY_SPREAD } from './traffic.ts';

/** Istio's default buckets for istio_request_duration_milliseconds. */
export const ISTIO_DURATION_BUCKETS: readonly number[] = [
  1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000,
];

/** How often synthetic load is generated; fractional requests carry over between ticks. */
const TICK_MS = 100;

export interface MeshWorkload {
  /** host:port to scrape (/metrics). */
  metricsAddress: string;
  /** Base URL of the service; `GET /` answers `{version}` with the drawn status code. */
  url: string;
  setBehaviour(version: string, b: VersionBehaviour): void;
  /** Total synthetic request rate, all versions together. */
  setRate(rps: number): void;
  /** Share of traffic per version, e.g. {v1: 90, v2: 10}; versions left out get none. */
  setWeights(w: Record<string, number>): void;
  /**
   * Istio's mirror: `percent` of the requests copied to `version` too, reported by its sidecar
   * (reporter="destination", its own labels) as any request, answers discarded and not in served().
   */
  setMirror(version: string | undefined, percent?: number): void;
  /** The headers the testers' requests carry (MeshOptions.testers), for the data plane to match routes against. */
  readonly testerHeaders: Readonly<Record<string, string>>;
  /** Where a match route sends the testers' requests: a version, or undefined (they follow the weights). */
  setMatched(version: string | undefined): void;
  /** Requests served so far per version (synthetic and HTTP); errors: failed or unanswered. */
  served(): Record<string, { requests: number; errors: number }>;
  stop(): Promise<void>;
}

export interface MeshOptions {
  service: string;
  namespace: string;
  versions: string[];
  /** Synthetic requests per second; default 0 (only real HTTP requests are counted). */
  rps?: number;
  seed?: number;
  behaviour?: Record<string, VersionBehaviour>;
  /**
   * 'grpc': requests are gRPC calls, as Envoy reports them: HTTP 200 with the status in
   * grpc_response_status ("0" OK; a failure is "14", UNAVAILABLE). Default 'http'.
   */
  protocol?: 'http' | 'grpc';
  /**
   * false: the pods have no sidecar, so only a gateway in front of them reports the requests
   * (reporter="source"), and it cannot read their labels: destination_version "unknown".
   */
  sidecars?: boolean;
  /**
   * A share (0..1) of the synthetic requests sent by testers with these headers (say
   * `{'x-canary': 'true'}`), which a match step's route may send to the canary. Default: none.
   */
  testers?: { share: number; headers: Record<string, string> };
}

/** grpc_response_status of a failed call on a gRPC mesh: UNAVAILABLE. */
export const GRPC_ERROR_STATUS = '14';

const LABELS = [
  'reporter', 'destination_service', 'destination_service_name', 'destination_service_namespace',
  'destination_workload', 'destination_workload_namespace', 'destination_app', 'destination_version',
  'request_protocol', 'response_code', 'grpc_response_status',
] as const;

export async function startMeshWorkload(opts: MeshOptions): Promise<MeshWorkload> {
  const model = new TrafficModel(opts.versions, opts.seed ?? 1);
  const testerShare = opts.testers?.share ?? 0;
  model.setTesters(testerShare, undefined);
  for (const [v, b] of Object.entries(opts.behaviour ?? {})) model.setBehaviour(v, b);
  const rate = new RateAccumulator(opts.rps ?? 0);
  const counts = new Map(opts.versions.map((v) => [v, { requests: 0, errors: 0 }]));

  // A registry of our own: the global one belongs to the operator's /metrics.
  const registry = new Registry();
  const requests = new Counter({ name: 'istio_requests_total', help: 'Total requests.', labelNames: LABELS, registers: [registry] });
  const duration = new Histogram({
    name: 'istio_request_duration_milliseconds', help: 'Request duration.', labelNames: LABELS,
    buckets: [...ISTIO_DURATION_BUCKETS], registers: [registry],
  });
  const grpc = opts.protocol === 'grpc';
  const sidecars = opts.sidecars ?? true;
  const labels = (version: string, code: number): Record<(typeof LABELS)[number], string> => ({
    reporter: sidecars ? 'destination' : 'source',
    destination_service: `${opts.service}.${opts.namespace}.svc.cluster.local`,
    destination_service_name: opts.service,
    destination_service_namespace: opts.namespace,
    destination_workload: sidecars ? `${opts.service}-${version}` : 'unknown',
    destination_workload_namespace: opts.namespace,
    destination_app: sidecars ? opts.service : 'unknown',
    destination_version: sidecars ? version : 'unknown',
    request_protocol: grpc ? 'grpc' : 'http',
    // gRPC failures travel in trailers over HTTP 200; a call with no response has neither.
    response_code: String(grpc && code !== NO_RESPONSE_CODE ? OK_CODE : code),
    grpc_response_status: !grpc || code === NO_RESPONSE_CODE ? '' : code === OK_CODE ? '0' : GRPC_ERROR_STATUS,
  });
  // Series exist at 0 from the start: otherwise rate() misses the first increment of a series
  // that appears mid-run (e.g. the first 5xx), skewing short-window error ratios.
  for (const v of opts.versions) {
    for (const code of [OK_CODE, ERROR_CODE, NO_RESPONSE_CODE]) {
      requests.inc(labels(v, code), 0);
      duration.zero(labels(v, code));
    }
  }

  const record = (r: SyntheticRequest): void => {
    requests.inc(labels(r.version, r.code));
    duration.observe(labels(r.version, r.code), r.latencyMs);
    const m = model.mirrored();
    if (m) {
      requests.inc(labels(m.version, m.code));
      duration.observe(labels(m.version, m.code), m.latencyMs);
    }
    const c = counts.get(r.version);
    if (c) {
      c.requests++;
      if (r.code >= 500 || r.code === NO_RESPONSE_CODE) c.errors++;
    }
  };

  // Elapsed time is measured rather than assumed, so timer drift does not change the rate.
  let last = performance.now();
  const tick = (): void => {
    const now = performance.now();
    const due = rate.advance((now - last) / 1000);
    last = now;
    for (let i = 0; i < due; i++) {
      const r = model.next();
      if (r) record(r);
    }
  };
  const timer = setInterval(tick, TICK_MS);
  timer.unref();

  const pendingReplies = new Set<NodeJS.Timeout>();
  const reply = (res: ServerResponse, code: number, body: unknown): void => {
    res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (err: unknown) => reply(res, 500, { error: String(err) }),
      );
      return;
    }
    if (path !== '/') return reply(res, 404, { error: 'not found' });
    const r = model.next();
    if (!r) return reply(res, 503, { error: 'no healthy upstream: every weight is 0' });
    // Answer after the drawn latency, so what a demo's client sees matches the histogram.
    const t = setTimeout(() => {
      pendingReplies.delete(t);
      record(r);
      if (r.code === NO_RESPONSE_CODE) res.destroy(); // no answer at all, as after a caller's timeout
      else reply(res, r.code, { version: r.version });
    }, r.latencyMs);
    pendingReplies.add(t);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  let stopped: Promise<void> | undefined;
  return {
    metricsAddress: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}/`,
    setBehaviour: (v, b) => {
      tick(); // requests already due behaved the old way
      model.setBehaviour(v, b);
    },
    setRate: (rps) => {
      tick(); // bill the time so far at the old rate
      rate.setRate(rps);
    },
    setWeights: (w) => {
      tick(); // requests already due were routed by the old weights
      model.setWeights(w);
    },
    testerHeaders: { ...(opts.testers?.headers ?? {}) },
    setMatched: (v) => {
      tick();
      model.setTesters(testerShare, v);
    },
    setMirror: (v, percent) => {
      tick();
      model.setMirror(v, percent);
    },
    served: () => Object.fromEntries([...counts].map(([v, c]) => [v, { ...c }])),
    stop: () => {
      stopped ??= new Promise<void>((resolve) => {
        clearInterval(timer);
        for (const t of pendingReplies) clearTimeout(t);
        pendingReplies.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopped;
    },
  };
}
