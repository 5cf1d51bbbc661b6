import type { V1Lease } from '@kubernetes/client-node';
import type { KubeClient } from './client.ts';
import { isStatus } from './errors.ts';
import type { Logger } from './log.ts';
import { microTime } from './time.ts';

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  log: Logger;
  metrics?: LeaderMetrics;
}

/** What an elector reports; the controller names the metrics (leader_election_master_status, as client-go). */
export interface LeaderMetrics {
  /** Whether this instance leads the lease now; called at start (false) and at every change. */
  leading(lease: string, isLeader: boolean): void;
}

/**
 * Lease-based leader election as client-go does it: acquire when the lease is free or expired,
 * renew every retry period, and step down when a renewal has not succeeded within the renew
 * deadline. Optimistic concurrency (resourceVersion on update) makes two candidates safe.
 */
export class LeaderElector {
  private readonly client: KubeClient;
  private readonly o: Required<Omit<LeaderElectionOptions, 'log' | 'metrics'>> & Pick<LeaderElectionOptions, 'log' | 'metrics'>;
  private timer: NodeJS.Timeout | undefined;
  private lastRenew = 0;
  private leading = false;
  private stopped = false;
  private lease: V1Lease | undefined;

  constructor(client: KubeClient, opts: LeaderElectionOptions) {
    this.client = client;
    this.o = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000, ...opts };
  }

  get isLeader(): boolean { return this.leading; }

  /** Ends a pending `run()` when `release()` comes first (a shutdown while standing by). */
  private giveUp: (() => void) | undefined;

  /**
   * Resolves `true` once this instance leads, or `false` if `release()` is called before it does
   * (a shutdown while standing by must not leave a promise pending forever: the process would
   * then end with Node's exit code 13, "unsettled top-level await"). Calls `onLost` if it later
   * stops leading.
   */
  run(onLost: () => void): Promise<boolean> {
    return new Promise((resolve) => {
      if (this.stopped) return resolve(false);
      this.o.metrics?.leading(this.o.name, false);
      this.giveUp = () => resolve(false);
      const tick = async () => {
        if (this.stopped) return;
        const ok = await this.tryAcquireOrRenew().catch((err) => {
          this.o.log.warn({ err: (err as Error).message }, 'lease update failed');
          return false;
        });
        const now = Date.now();
        if (ok) {
          this.lastRenew = now;
          if (!this.leading) {
            this.leading = true;
            this.o.metrics?.leading(this.o.name, true);
            this.o.log.info({ lease: `${this.o.namespace}/${this.o.name}`, identity: this.o.identity }, 'became leader');
            this.giveUp = undefined;
            resolve(true);
          }
        } else if (this.leading && now - this.lastRenew > this.o.renewDeadlineMs) {
          this.leading = false;
          this.o.metrics?.leading(this.o.name, false);
          this.o.log.error({ lease: this.o.name }, 'lost leadership');
          onLost();
          return;
        }
        this.timer = setTimeout(tick, this.o.retryPeriodMs);
      };
      void tick();
    });
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = new Date();
    let current: V1Lease | undefined;
    try {
      current = await this.client.readLease(this.o.namespace, this.o.name);
    } catch (err) {
      if (!isStatus(err, 404)) throw err;
    }
    const durationS = Math.ceil(this.o.leaseDurationMs / 1000);
    if (!current) {
      this.lease = await this.client.createLease(this.o.namespace, {
        apiVersion: 'coordination.k8s.io/v1', kind: 'Lease',
        metadata: { name: this.o.name, namespace: this.o.namespace },
        spec: { holderIdentity: this.o.identity, leaseDurationSeconds: durationS, acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: 0 },
      }).catch((err) => { if (isStatus(err, 409)) return undefined; throw err; });
      return this.lease !== undefined;
    }
    const spec = current.spec ?? {};
    const holder = spec.holderIdentity;
    const renewed = spec.renewTime ? new Date(spec.renewTime).getTime() : 0;
    const expired = !holder || renewed + (spec.leaseDurationSeconds ?? durationS) * 1000 < now.getTime();
    if (holder !== this.o.identity && !expired) return false;
    const takingOver = holder !== this.o.identity;
    const next: V1Lease = {
      ...current,
      spec: {
        ...spec,
        holderIdentity: this.o.identity,
        leaseDurationSeconds: durationS,
        renewTime: microTime(now),
        acquireTime: takingOver || !spec.acquireTime ? microTime(now) : microTime(new Date(spec.acquireTime)),
        ...(takingOver ? { leaseTransitions: (spec.leaseTransitions ?? 0) + 1 } : {}),
      },
    };
    try {
      this.lease = await this.client.replaceLease(this.o.namespace, this.o.name, next);
      return true;
    } catch (err) {
      if (isStatus(err, 409)) return false;
      throw err;
    }
  }

  /** Give the lease up so a standby can take over at once instead of waiting for it to expire. */
  async release(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.giveUp?.();
    this.giveUp = undefined;
    if (!this.leading || !this.lease) return;
    this.leading = false;
    this.o.metrics?.leading(this.o.name, false);
    try {
      await this.client.replaceLease(this.o.namespace, this.o.name, {
        ...this.lease,
        spec: { ...this.lease.spec, holderIdentity: undefined, leaseDurationSeconds: 1, renewTime: microTime(new Date()), ...(this.lease.spec?.acquireTime ? { acquireTime: microTime(new Date(this.lease.spec.acquireTime)) } : {}) },
      });
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message }, 'could not release lease');
    }
  }
}
