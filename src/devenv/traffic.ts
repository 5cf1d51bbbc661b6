/**
 * The pure part of the fake mesh: which version a request goes to, whether it fails and how
 * long it takes. No timers or I/O here, so tests can drive it with simulated time.
 */
import { mulberry32 } from '../analysis/prng.ts';

export interface VersionBehaviour {
  /** Share of requests answered with a 5xx (on a gRPC mesh: grpc-status UNAVAILABLE), 0..1. */
  errorRate: number;
  /**
   * Share of requests that get no answer, 0..1 (errorRate + unansweredRate <= 1): the caller gave
   * up or the connection was reset, which Istio records as response_code "0". Default 0.
   */
  unansweredRate?: number;
  /** Typical latency; each request gets it spread by ±LATENCY_SPREAD. */
  latencyMs: number;
}

export interface SyntheticRequest {
  version: string;
  code: number;
  latencyMs: number;
}

/** Relative spread of latencies around latencyMs (triangular, bounded so tests can predict p99). */
export const LATENCY_SPREAD = 0.2;
/** Status code of a failed request: what Envoy answers when the upstream is unhealthy. */
export const ERROR_CODE = 503;
export const OK_CODE = 200;
/** Istio's response_code of a request that got no response (caller timeout, reset). */
export const NO_RESPONSE_CODE = 0;
export const DEFAULT_BEHAVIOUR: VersionBehaviour = { errorRate: 0, latencyMs: 20 };

export class TrafficModel {
  readonly versions: readonly string[];
  private readonly rng: () => number;
  private readonly behaviours = new Map<string, VersionBehaviour>();
  private weights = new Map<string, number>();
  private mirror: { version: string; percent: number } | undefined;
  /** Share of requests sent by testers (they carry the headers a match step names), and where a match route sends them. */
  private testers = { share: 0, version: undefined as string | undefined };
  private readonly testerRng: () => number;
  /** Mirror draws have their own stream, so a seed gives the same live requests with or without a mirror. */
  private readonly mirrorRng: () => number;

  constructor(versions: readonly string[], seed: number) {
    if (versions.length === 0) throw new Error('at least one version is needed');
    this.versions = [...versions];
    this.rng = mulberry32(seed);
    this.mirrorRng = mulberry32(seed ^ 0x5f3759df);
    this.testerRng = mulberry32(seed ^ 0x2545f491);
    for (const v of versions) this.behaviours.set(v, { ...DEFAULT_BEHAVIOUR });
    // Until told otherwise all traffic goes to the first (stable) version, as before a rollout.
    this.setWeights({ [versions[0] as string]: 100 });
  }

  setBehaviour(version: string, b: VersionBehaviour): void {
    this.checkVersion(version);
    if (!(b.errorRate >= 0 && b.errorRate <= 1)) throw new Error(`errorRate must be in 0..1, got ${b.errorRate}`);
    const unanswered = b.unansweredRate ?? 0;
    if (!(unanswered >= 0 && b.errorRate + unanswered <= 1)) throw new Error(`unansweredRate must be in 0..1 - errorRate, got ${unanswered}`);
    if (!(b.latencyMs >= 0)) throw new Error(`latencyMs must be >= 0, got ${b.latencyMs}`);
    this.behaviours.set(version, { ...b });
  }

  /** Versions left out get no traffic; all zero means requests are not served at all. */
  setWeights(w: Record<string, number>): void {
    const next = new Map<string, number>();
    for (const [v, weight] of Object.entries(w)) {
      this.checkVersion(v);
      if (!(weight >= 0)) throw new Error(`weight of ${v} must be >= 0, got ${weight}`);
      next.set(v, weight);
    }
    this.weights = next;
  }

  /**
   * Istio's mirror of the route: `percent` of the requests are copied to `version` as well (its
   * answers discarded); undefined: no mirror.
   */
  setMirror(version: string | undefined, percent = 100): void {
    if (version === undefined) {
      this.mirror = undefined;
      return;
    }
    this.checkVersion(version);
    if (!(percent >= 0 && percent <= 100)) throw new Error(`mirror percent must be in 0..100, got ${percent}`);
    this.mirror = { version, percent };
  }

  /** Called once per live request: its mirrored copy (the mirror's version's behaviour), or undefined. */
  mirrored(): SyntheticRequest | undefined {
    const m = this.mirror;
    if (!m || this.mirrorRng() * 100 >= m.percent) return undefined;
    return this.draw(m.version, this.mirrorRng);
  }

  /** `share` (0..1) of the requests come from testers; a match route sends theirs to `version` (undefined: none). */
  setTesters(share: number, version: string | undefined): void {
    if (!(share >= 0 && share <= 1)) throw new Error(`tester share must be in 0..1, got ${share}`);
    if (version !== undefined) this.checkVersion(version);
    this.testers = { share, version };
  }

  /** Draws one request, or undefined when every weight is zero (nowhere to route). */
  next(): SyntheticRequest | undefined {
    const t = this.testers;
    // Drawn only when testers exist, so that seeds give the same requests as before testers did.
    if (t.share > 0 && this.testerRng() < t.share && t.version !== undefined) return this.draw(t.version, this.rng);
    const version = this.pickVersion();
    if (version === undefined) return undefined;
    return this.draw(version, this.rng);
  }

  private draw(version: string, rng: () => number): SyntheticRequest {
    const b = this.behaviours.get(version) ?? DEFAULT_BEHAVIOUR;
    // One draw decides the outcome, so seeds give the same requests as before unansweredRate existed.
    const u = rng();
    const code = u < b.errorRate ? ERROR_CODE : u < b.errorRate + (b.unansweredRate ?? 0) ? NO_RESPONSE_CODE : OK_CODE;
    // Sum of two uniforms: triangular around 1, within [1 - SPREAD, 1 + SPREAD].
    const factor = 1 + LATENCY_SPREAD * (rng() + rng() - 1);
    return { version, code, latencyMs: b.latencyMs * factor };
  }

  private pickVersion(): string | undefined {
    let total = 0;
    for (const w of this.weights.values()) total += w;
    if (total <= 0) return undefined;
    let x = this.rng() * total;
    for (const v of this.versions) {
      const w = this.weights.get(v) ?? 0;
      if (w > 0 && x < w) return v;
      x -= w;
    }
    // Float rounding can leave x just past the end: give it to the last weighted version.
    return [...this.versions].reverse().find((v) => (this.weights.get(v) ?? 0) > 0);
  }

  private checkVersion(v: string): void {
    if (!this.versions.includes(v)) throw new Error(`unknown version ${v}; known: ${this.versions.join(', ')}`);
  }
}

/**
 * Turns a rate into whole requests per tick. Carrying the fractional remainder is what makes
 * 0.5 rps or 1 rps come out right over time with ~100 ms ticks.
 */
export class RateAccumulator {
  private pending = 0;
  private rps: number;
  constructor(rps: number) {
    RateAccumulator.check(rps);
    this.rps = rps;
  }

  setRate(rps: number): void {
    RateAccumulator.check(rps);
    this.rps = rps;
  }

  /** Whole requests due after `seconds` more of elapsed time. */
  advance(seconds: number): number {
    this.pending += this.rps * Math.max(0, seconds);
    const n = Math.floor(this.pending);
    this.pending -= n;
    return n;
  }

  private static check(rps: number): void {
    if (!(rps >= 0 && Number.isFinite(rps))) throw new Error(`rate must be a finite number >= 0, got ${rps}`);
  }
}
