/**
 * The analyzer's provider selection over real HTTP: loopback servers stand in for a provider with
 * a bearer token, an allowed address, and an address nobody allowed.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { resolveRollout, type ResolvedRollout } from '../api/resolve.ts';
import { parseRollout } from '../api/validate.ts';
import { silentLogger } from '../kube/log.ts';
import { policyOf, type PrometheusConfig } from '../metrics/provider-config.ts';
import { analysisCheckAt } from '../plan/clock.ts';
import { PrometheusAnalyzer } from './prometheus-analyzer.ts';

interface Endpoint { url: string; auth: (string | undefined)[]; server: Server }
const endpoints: Endpoint[] = [];
let dir = '';
let config: PrometheusConfig;

function serve(): Promise<Endpoint> {
  const auth: (string | undefined)[] = [];
  const server = createServer((req, res) => {
    auth.push(req.headers.authorization);
    res.writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [1, '0'] }] } }));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const e = { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, auth, server };
    endpoints.push(e);
    resolve(e);
  }));
}

let secured: Endpoint;
let allowed: Endpoint;
let other: Endpoint;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fledge-analyzer-'));
  await writeFile(join(dir, 'token'), 'tok-analyzer\n');
  [secured, allowed, other] = [await serve(), await serve(), await serve()];
  config = {
    providers: [{ name: 'default', address: secured.url, timeoutMs: 1000, auth: { type: 'bearer', file: join(dir, 'token') } }],
    allowedAddresses: [`${allowed.url}`],
  };
});

afterAll(async () => {
  for (const e of endpoints) await new Promise((r) => e.server.close(r));
  await rm(dir, { recursive: true, force: true });
});

function rollout(prometheus?: Record<string, unknown>, policy = policyOf(config)): ResolvedRollout {
  const doc = {
    apiVersion: 'fledge.dev/v1alpha1', kind: 'Rollout', metadata: { name: 'web', namespace: 'shop' },
    spec: {
      service: { name: 'web' }, stable: { labels: { version: 'v1' } }, canary: { labels: { version: 'v2' } }, strategy: { steps: [50, 100] },
      analysis: { ...(prometheus ? { prometheus } : {}), metrics: [{ name: 'q', query: 'up', max: 1 }], comparison: { enabled: false }, minRequests: 0 },
    },
  };
  const parsed = parseRollout(doc, { prometheus: policy });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  return resolveRollout(parsed.rollout);
}

/** The planner's check a minute into the first step. */
function checkOf(r: ResolvedRollout, now: Date) {
  return analysisCheckAt(r, { stepIndex: 0, stepStartedAt: new Date(now.getTime() - 60_000).toISOString() }, now);
}

it('sends the provider\'s token to the provider only, and nothing to an allowed address', async () => {
  const analyzer = new PrometheusAnalyzer({ log: silentLogger, prometheus: config });
  const now = new Date();
  const analyze = (r: ResolvedRollout) => analyzer.analyze(r, checkOf(r, now), now);
  expect((await analyze(rollout())).metrics[0]).toMatchObject({ value: 0 });
  expect((await analyze(rollout({ address: `${secured.url}/` }))).metrics[0]).toMatchObject({ value: 0 });
  expect((await analyze(rollout({ address: allowed.url }))).metrics[0]).toMatchObject({ value: 0 });
  expect(secured.auth).toEqual(['Bearer tok-analyzer', 'Bearer tok-analyzer']);
  expect(allowed.auth).toEqual([undefined]);
});

it('judges a Rollout its policy refuses inconclusive without a request (the second lock behind validation)', async () => {
  // Validated under a policy that allowed the address, analysed under one that does not.
  const r = rollout({ address: other.url }, { providers: [], allowedAddresses: [other.url] });
  const now = new Date();
  const result = await new PrometheusAnalyzer({ log: silentLogger, prometheus: config }).analyze(r, checkOf(r, now), now);
  expect(result.verdict).toBe('inconclusive');
  expect(result.reason).toMatch(/^spec\.analysis\.prometheus\.address: .* is not a Prometheus this controller may query/);
  expect(other.auth).toEqual([]);
});
