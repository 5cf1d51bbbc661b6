/**
 * API server faults, with the real controller process:
 *
 * - the API server is stopped for 30 s mid-rollout (apiserver-restart.test.ts does 5 s): the
 *   controller reports not ready, writes nothing it cannot stand behind, and once the API server
 *   is back it carries on by itself; how long that takes is measured;
 * - the controller's watches are resumed from a compacted revision and get 410 Gone: the API
 *   server compacts etcd every 5 s (`--etcd-compaction-interval=5s`), many writes to another
 *   resource move the revision on, and the API server is restarted without its watch cache, so
 *   the watches are served by etcd itself, where the old revision is gone. The controller must
 *   relist (seen in its request counters) and resume.
 *
 * Every write to the Rollouts, VirtualServices and DestinationRules is recorded and checked with
 * the crash soak's invariants (test/soak/invariants.ts).
 */
import { request as httpsRequest } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../src/devenv/cluster.ts';
import { startTestCluster } from '../support/cluster.ts';
import { ControllerProcess } from '../support/controller-process.ts';
import {
  ROLLOUTS, VIRTUAL_SERVICES, createNamespace, eventually, getObject, gitopsApply, rolloutManifest, testKube,
  weightsOf, waitForPhase, type RolloutLike, type TestKube, type VirtualServiceLike,
} from '../support/kube.ts';
import { checkHistory, describeHistory } from '../soak/invariants.ts';
import { WriteRecorder } from '../soak/recorder.ts';

const NS = 'faults';
const OUTAGE_MS = 30_000;
let cluster: LocalCluster;
let k: TestKube;
let controller: ControllerProcess;
let recorder: WriteRecorder;
const figures: Record<string, number | string | undefined> = {};

beforeAll(async () => {
  cluster = await startTestCluster({ apiServerArgs: ['--etcd-compaction-interval=5s'] });
  k = testKube(cluster.kubeconfigPath);
  await createNamespace(k, NS);
  recorder = new WriteRecorder(cluster.kubeconfigPath, NS);
  await recorder.start();
  // The default resync (5m): recovering must not depend on a short one.
  controller = await ControllerProcess.start({ kubeconfig: cluster.kubeconfigPath, args: ['--namespace', NS], env: { LOG_LEVEL: 'info' } });
});

afterAll(async () => {
  recorder?.stop();
  await controller?.stop();
  await cluster?.stop();
  if (Object.keys(figures).length > 0) process.stderr.write(`API server faults: ${JSON.stringify(figures)}\n`);
});

const rolloutOf = (name: string) => getObject<RolloutLike & { metadata: { resourceVersion: string } }>(k, ROLLOUTS, NS, name);
const readyz = async () => (await fetch(`http://127.0.0.1:${controller.port}/readyz`).catch(() => undefined))?.status ?? 0;

/** fledge_kube_requests_total{verb, resource}, from the controller's /metrics. */
async function requests(verb: string, resource: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${controller.port}/metrics`)).text();
  const m = text.match(new RegExp(`^fledge_kube_requests_total\\{verb="${verb}",resource="${resource}"\\} ([0-9.e+]+)$`, 'm'));
  return m ? Number(m[1]) : 0;
}

/** GET on the API server as the admin; its certificate is self-signed. Status and body. */
function rawGet(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(`${cluster.server}${path}`, { rejectUnauthorized: false, headers: { authorization: `Bearer ${cluster.adminToken}` } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => { body += d.toString(); });
      res.on('end', () => resolve(`${res.statusCode} ${body}`));
    });
    req.on('error', reject);
    req.end();
  });
}

function spec(service: string, steps: number[], interval: string): Record<string, unknown> {
  return { service: { name: service }, stable: { labels: { version: 'v1' } }, canary: { labels: { version: 'v2' } }, strategy: { steps, interval } };
}

describe('API server faults', () => {
  it(`carries on by itself after the API server was down for ${OUTAGE_MS / 1000} s mid-rollout`, async () => {
    await gitopsApply(k, rolloutManifest(NS, 'outage', spec('outage', [10, 20, 30, 40, 60, 100], '2s')));
    await eventually(async () => ((await rolloutOf('outage'))?.status?.canaryWeight ?? 0) >= 20, 'step 2', 30_000, 100);
    const before = (await rolloutOf('outage'))!;
    const listsBefore = await requests('list', 'rollouts');

    await cluster.stopApiServer();
    const down = Date.now();
    await eventually(async () => (await readyz()) === 503, '/readyz to report the lost watches', 60_000, 250);
    figures.notReadyAfterMs = Date.now() - down;
    await new Promise((r) => setTimeout(r, OUTAGE_MS - (Date.now() - down)));
    expect(controller.proc.exitCode, 'the controller must survive the outage').toBeNull();
    await cluster.startApiServer();
    const back = Date.now();
    figures.outageMs = back - down;

    // Both clocks from the moment the API server answers again: ready, and the rollout moving.
    await eventually(async () => {
      if (figures.readyAfterMs === undefined && (await readyz()) === 200) figures.readyAfterMs = Date.now() - back;
      const r = await rolloutOf('outage');
      if (figures.progressAfterMs === undefined && r && r.status?.stepIndex !== before.status?.stepIndex) figures.progressAfterMs = Date.now() - back;
      return figures.readyAfterMs !== undefined && figures.progressAfterMs !== undefined;
    }, '/readyz to recover and the rollout to move again', 60_000, 100);
    const done = await waitForPhase(k, NS, 'outage', 'Promoted', 60_000, 200);
    expect(done.status?.canaryWeight).toBe(100);
    expect(weightsOf((await getObject<VirtualServiceLike>(k, VIRTUAL_SERVICES, NS, 'outage'))!)).toEqual({ stable: 0, canary: 100 });
    expect(controller.logs.some((l) => l.msg === 'watch failed; restarting')).toBe(true);
    // A restarted API server starts a fresh watch cache: the old revisions are gone from it (410),
    // so the informers had to list again.
    figures.relistsAfterRestart = (await requests('list', 'rollouts')) - listsBefore;
    expect(figures.relistsAfterRestart).toBeGreaterThanOrEqual(1);
    expect(controller.logs.some((l) => l.msg === 'watch restored'), 'the informers say they are back').toBe(true);
    // Bounded by the informers' restart back-off (at most 5 s between attempts), not by the work
    // queue's (up to 5 min): a restored watch requeues every Rollout. The bound tells the two
    // apart with room for a loaded machine; the measured figures go to docs/reliability.md.
    expect(figures.readyAfterMs).toBeLessThan(90_000);
    expect(figures.progressAfterMs).toBeLessThan(90_000);

    const history = recorder.ordered().filter((e) => e.name === 'outage');
    const { violations } = checkHistory(history, []);
    expect(violations, `${describeHistory(history)}\nrecorder: ${recorder.gaps.join('; ')}`).toEqual([]);
  }, 150_000);

  it('relists after its watches get 410 Gone from a compacted etcd, and resumes', async () => {
    // A step long enough that nothing of ours is written while etcd is compacted: the watches'
    // last revisions are then old, and really gone.
    await gitopsApply(k, rolloutManifest(NS, 'gone', spec('gone', [10, 100], '20s')));
    await eventually(async () => (await rolloutOf('gone'))?.status?.canaryWeight === 10, 'step 1', 30_000, 100);
    const old = (await rolloutOf('gone'))!.metadata.resourceVersion;
    const lists = { rollouts: await requests('list', 'rollouts'), virtualservices: await requests('list', 'virtualservices'), destinationrules: await requests('list', 'destinationrules') };

    // Move etcd's revision far past what the controller's watches last saw, on another resource,
    // and give the API server's compactor (every 5 s) time to compact it away.
    for (let i = 0; i < 60; i++) {
      await k.core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: `churn-${i}` }, data: { i: String(i) } } });
    }
    await new Promise((r) => setTimeout(r, 11_000));
    // Without its watch cache, the API server serves watches from etcd: the old revision is compacted.
    await cluster.restartApiServer({ extraArgs: ['--watch-cache=false'] });
    const back = Date.now();
    const probe = await rawGet(`/apis/fledge.dev/v1alpha1/namespaces/${NS}/rollouts?watch=true&resourceVersion=${old}&timeoutSeconds=1`);
    expect(probe, 'a watch from the old revision').toMatch(/"code":410|^410/);

    await eventually(async () => (await readyz()) === 200, '/readyz after the restart', 60_000, 100);
    const relisted = await eventually(async () => {
      const now = { rollouts: await requests('list', 'rollouts'), virtualservices: await requests('list', 'virtualservices'), destinationrules: await requests('list', 'destinationrules') };
      return Object.entries(now).every(([res, n]) => n > lists[res as keyof typeof lists]) ? now : undefined;
    }, 'every informer to relist', 60_000, 200);
    figures.relistedAfterMs = Date.now() - back;
    expect(controller.logs.filter((l) => l.msg === 'relisted').map((l) => l.informer).sort()).toEqual(expect.arrayContaining(['destinationrules', 'rollouts', 'virtualservices']));
    // client-node gives up on a silent watch after 30 s; a relist before that came from the
    // restart's closed connections and the 410, not from an idle timeout.
    expect(figures.relistedAfterMs, 'relisting must not wait for an idle watch to time out').toBeLessThan(28_000);
    figures.relists = JSON.stringify(Object.fromEntries(Object.entries(relisted).map(([res, n]) => [res, n - lists[res as keyof typeof lists]])));

    // The caches are live again: the rollout walks on, and a change made now is seen.
    await eventually(async () => (await rolloutOf('gone'))?.status?.phase === 'Promoted', 'promotion after the 410', 60_000, 200);
    await gitopsApply(k, rolloutManifest(NS, 'after', spec('after', [50, 100], '1s')));
    await eventually(async () => (await rolloutOf('after'))?.status?.phase === 'Promoted', 'a Rollout created after the 410 to be promoted', 30_000, 200);
    figures.newRolloutPromotedAfterMs = Date.now() - back;
    expect(controller.proc.exitCode).toBeNull();

    const history = recorder.ordered().filter((e) => e.name === 'gone' || e.name === 'after');
    const { violations } = checkHistory(history, []);
    expect(violations, `${describeHistory(history)}\nrecorder: ${recorder.gaps.join('; ')}`).toEqual([]);
  }, 120_000);
});
