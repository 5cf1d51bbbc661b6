/**
 * A small version of `npm run bench:scale`: 50 Rollouts that exist before the controller starts
 * must all converge (DestinationRule, VirtualService at 90/10, status Progressing), and once they
 * have, the controller must leave the API server alone: no write and no polling while nothing
 * changes.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../src/devenv/cluster.ts';
import { KubeClient } from '../../src/kube/client.ts';
import {
  ConvergenceWatch, createRollouts, requestDelta, scaleNamespaces, scrape, sleep, total, waitQuiet, writesOf,
} from '../../bench/scale/kit.ts';
import { startTestCluster } from '../support/cluster.ts';
import { ControllerProcess } from '../support/controller-process.ts';
import { ROLLOUTS } from '../support/kube.ts';

const N = 50;
let cluster: LocalCluster;
let watch: ConvergenceWatch;
let controller: ControllerProcess | undefined;

beforeAll(async () => {
  cluster = await startTestCluster();
  await createRollouts(cluster.adminKubeConfig(), N, scaleNamespaces(3));
  watch = new ConvergenceWatch(cluster.adminKubeConfig());
  await watch.start();
});

afterAll(async () => {
  await controller?.stop();
  await watch?.stop();
  await cluster?.stop();
});

describe(`${N} Rollouts at once`, () => {
  it('all converge to the first step, then the controller makes no request while idle', async () => {
    controller = await ControllerProcess.start({ kubeconfig: cluster.kubeconfigPath, env: { LOG_LEVEL: 'info' } });
    // The 4 × 50 writes take a second or two on a quiet machine; how fast is bench:scale's
    // business (docs/benchmarks.md), this test only needs them all, on a busy machine too.
    await watch.waitConverged(N, 150_000);
    expect(watch.convergedAt.size).toBe(N);

    const atConvergence = requestDelta(new Map(), await scrape(controller.port));
    // One list per resource, then only writes: no per-object GET.
    expect(Object.keys(atConvergence).filter((k) => k.startsWith('get '))).toEqual([]);

    await waitQuiet(controller.port, 2000, 30_000);
    const before = await scrape(controller.port);
    await sleep(10_000);
    const after = await scrape(controller.port);
    const idle = requestDelta(before, after);
    expect(writesOf(idle), JSON.stringify(idle)).toBe(0);
    expect(idle).toEqual({});
    expect(total(after, 'workqueue_depth', (l) => l.name === 'rollouts')).toBe(0);
  }, 300_000);
});

describe('KubeClient connections', () => {
  it('reuses one connection pool: 100 requests in a row do not open 100 TLS connections', async () => {
    // client-node makes a new undici Agent per request; before shareConnections() each request
    // paid a TLS handshake (bench:scale: most of the API server's CPU per write).
    let connects = 0;
    const count = () => { connects++; };
    subscribe('undici:client:connected', count);
    try {
      const client = new KubeClient(cluster.adminKubeConfig(), { fieldManager: 'scale-smoke', qps: 0 });
      for (let i = 0; i < 100; i++) await client.list(ROLLOUTS, 'scale-0');
      expect(connects).toBeLessThanOrEqual(3);
    } finally {
      unsubscribe('undici:client:connected', count);
    }
  });
});
