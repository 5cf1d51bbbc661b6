/**
 * KubeClient against real HTTP: a node:http server on 127.0.0.1 plays an API server that sheds
 * load (429 + Retry-After, as API Priority and Fairness does) and the client rides it out.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { KubeObject } from '../api/object.ts';
import { KubeClient, type ClientOptions } from './client.ts';
import { KubeApiError } from './errors.ts';
import { rejection } from '../../test/support/rejection.ts';

interface Seen {
  method: string;
  path: string;
  contentType: string | undefined;
  body: string;
  /** performance.now() when the request had fully arrived. */
  at: number;
  /** Which TCP connection it came on (1, 2, ...). */
  connection: number;
}
type Handler = (req: Seen, res: ServerResponse, attempt: number) => void;

let server: Server;
let port: number;
let handler: Handler;
let seen: Seen[];
const connections = new WeakMap<Socket, number>();
let connectionCount = 0;

const ROLLOUTS = { group: 'fledge.dev', version: 'v1alpha1', plural: 'rollouts' };
const LIST = { apiVersion: 'fledge.dev/v1alpha1', kind: 'RolloutList', metadata: { resourceVersion: '42' }, items: [{ apiVersion: 'fledge.dev/v1alpha1', kind: 'Rollout', metadata: { name: 'web', namespace: 'ns' } }] };

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) =>
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
const status = (code: number, reason: string, message: string) => ({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
/** What kube-apiserver's APF filter answers when it rejects a request. */
const throttled = (res: ServerResponse, retryAfter = '1') =>
  json(res, 429, { ...status(429, 'TooManyRequests', 'Too many requests, please try again later.'), details: { retryAfterSeconds: Number(retryAfter) } }, { 'retry-after': retryAfter });
/** Answers each attempt in turn with the given responses (the last one repeats). */
const script = (...steps: ((res: ServerResponse, req: Seen) => void)[]): Handler => (req, res, attempt) =>
  steps[Math.min(attempt, steps.length) - 1]!(res, req);

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const s: Seen = {
        method: req.method ?? '',
        path: new URL(req.url ?? '/', 'http://x').pathname,
        contentType: req.headers['content-type'],
        body: Buffer.concat(chunks).toString(),
        at: performance.now(),
        connection: connections.get(req.socket) ?? 0,
      };
      seen.push(s);
      handler(s, res, seen.length);
    });
  });
  server.on('connection', (socket: Socket) => connections.set(socket, ++connectionCount));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  seen = [];
  handler = (_req, res) => json(res, 200, LIST);
});

/** A kubeconfig for the plain-HTTP server (client-node allows http:// only with skipTLSVerify). */
function kubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'fake', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'me', token: 'not-a-secret' }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'me' }],
    currentContext: 'fake',
  });
  return kc;
}

interface Recorded { requests: string[]; throttled: [string, number, number][] }

function client(opts: Partial<ClientOptions> = {}): { kube: KubeClient; rec: Recorded } {
  const kube = new KubeClient(kubeConfig(), { fieldManager: 'fledge-test', ...opts });
  const rec: Recorded = { requests: [], throttled: [] };
  kube.onRequest = (verb, resource) => rec.requests.push(`${verb} ${resource}`);
  kube.onThrottled = (verb, _resource, code, waitMs) => rec.throttled.push([verb, code, waitMs]);
  return { kube, rec };
}

/** Fast retries for the tests that are not about the wait itself. */
const FAST = { retryAfter: { minMs: 0, maxMs: 20 } } satisfies Partial<ClientOptions>;

describe('a throttled request', () => {
  it('is sent again after the server\'s Retry-After, and the second answer is the result', async () => {
    handler = script((res) => throttled(res, '1'), (res) => json(res, 200, LIST));
    const { kube, rec } = client();
    const list = await kube.list(ROLLOUTS, 'ns');

    expect(list.items.map((o) => o.metadata?.name)).toEqual(['web']);
    expect(list.metadata?.resourceVersion).toBe('42');
    expect(seen).toHaveLength(2);
    expect(seen.map((s) => `${s.method} ${s.path}`)).toEqual(Array(2).fill('GET /apis/fledge.dev/v1alpha1/namespaces/ns/rollouts'));
    // Retry-After: 1 means no sooner than a second later (timers may round down by a ms or so).
    expect(seen[1]!.at - seen[0]!.at).toBeGreaterThanOrEqual(990);
    expect(seen[1]!.at - seen[0]!.at).toBeLessThan(3_000);
    // Both requests are counted: the server saw two.
    expect(rec.requests).toEqual(['list rollouts', 'list rollouts']);
    expect(rec.throttled).toEqual([['list', 429, 1_000]]);
    // The shared connection pool works over plain HTTP too: the retry reused the connection.
    expect(seen[1]!.connection).toBe(seen[0]!.connection);
  });

  it('surfaces as a KubeApiError 429 after 1 + throttleRetries attempts', async () => {
    handler = (_req, res) => throttled(res, '1');
    const { kube, rec } = client({ ...FAST, throttleRetries: 2 });
    const err = await rejection(kube.get(ROLLOUTS, 'ns', 'web'));

    expect(err).toBeInstanceOf(KubeApiError);
    expect((err as KubeApiError).status).toBe(429);
    expect((err as KubeApiError).reason).toBe('TooManyRequests');
    expect((err as KubeApiError).verb).toBe('get');
    expect(err.message).toBe('Too many requests, please try again later.');
    expect(seen).toHaveLength(3);
    expect(rec.requests).toEqual(['get rollouts', 'get rollouts', 'get rollouts']);
    // Retry-After: 1 was capped to maxMs.
    expect(rec.throttled).toEqual([['get', 429, 20], ['get', 429, 20]]);
  });

  it('retries a server-side apply with the very same request', async () => {
    const vs: KubeObject = { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'web', namespace: 'ns' }, spec: { hosts: ['web'] } };
    let patches = 0;
    handler = (req, res) => {
      // KubernetesObjectApi first asks discovery which resource serves the kind.
      if (req.method === 'GET' && req.path === '/apis/networking.istio.io/v1') {
        json(res, 200, { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: 'networking.istio.io/v1', resources: [{ name: 'virtualservices', singularName: 'virtualservice', namespaced: true, kind: 'VirtualService', verbs: ['get', 'list', 'patch'] }] });
      } else if (req.method === 'PATCH' && ++patches === 1) {
        throttled(res, '1');
      } else {
        json(res, 200, { ...vs, metadata: { ...vs.metadata, resourceVersion: '7' } });
      }
    };
    const { kube } = client(FAST);
    const written = await kube.apply(vs);

    expect(written.metadata.resourceVersion).toBe('7');
    const sent = seen.filter((s) => s.method === 'PATCH');
    expect(sent).toHaveLength(2);
    expect(sent[0]!.path).toBe('/apis/networking.istio.io/v1/namespaces/ns/virtualservices/web');
    expect(sent[1]!.path).toBe(sent[0]!.path);
    expect(sent[1]!.contentType).toBe('application/apply-patch+yaml');
    expect(sent[1]!.contentType).toBe(sent[0]!.contentType);
    expect(JSON.parse(sent[1]!.body)).toEqual(vs);
    expect(sent[1]!.body).toBe(sent[0]!.body);
  });

  it('takes a token from the bucket for each retry', async () => {
    handler = script((res) => throttled(res, '0'), (res) => json(res, 200, LIST));
    // One token to start with, five a second: the retry (which waits 0 ms) must wait ~200 ms for a token.
    const { kube, rec } = client({ qps: 5, burst: 1, retryAfter: { minMs: 0, maxMs: 0 } });
    // Measured from before the first token is taken: a loaded machine can delay the first
    // request's arrival, never make the second one's token come sooner.
    const t0 = performance.now();
    await kube.list(ROLLOUTS, 'ns');

    expect(seen).toHaveLength(2);
    expect(rec.throttled).toEqual([['list', 429, 0]]);
    expect(seen[1]!.at - t0).toBeGreaterThanOrEqual(180);
  });

  it('is retried on a 503 with Retry-After', async () => {
    handler = script((res) => json(res, 503, status(503, 'ServiceUnavailable', 'try later'), { 'retry-after': '1' }), (res) => json(res, 200, LIST));
    const { kube, rec } = client(FAST);
    const list = await kube.list(ROLLOUTS, 'ns');

    expect(list.items).toHaveLength(1);
    expect(seen).toHaveLength(2);
    expect(rec.throttled).toEqual([['list', 503, 20]]);
  });
});

describe('what is not retried', () => {
  it.each<[string, (res: ServerResponse) => void, number]>([
    ['a 503 without Retry-After', (res) => json(res, 503, status(503, 'ServiceUnavailable', 'down')), 503],
    ['a 500 even with Retry-After', (res) => json(res, 500, status(500, 'InternalError', 'boom'), { 'retry-after': '1' }), 500],
    ['a 504 (the server may still be processing it)', (res) => json(res, 504, status(504, 'Timeout', 'timeout'), { 'retry-after': '1' }), 504],
    ['a 409', (res) => json(res, 409, status(409, 'Conflict', 'the object has been modified')), 409],
    ['a 422', (res) => json(res, 422, status(422, 'Invalid', 'spec.x: Invalid value')), 422],
  ])('%s', async (_what, reply, code) => {
    handler = (_req, res) => reply(res);
    const { kube, rec } = client(FAST);
    const err = await rejection(kube.get(ROLLOUTS, 'ns', 'web'));

    expect(err).toBeInstanceOf(KubeApiError);
    expect((err as KubeApiError).status).toBe(code);
    expect(seen).toHaveLength(1);
    expect(rec.requests).toEqual(['get rollouts']);
    expect(rec.throttled).toEqual([]);
  });

  it('a throttled lease call: the leader election keeps its own deadlines', async () => {
    handler = (_req, res) => throttled(res, '1');
    const { kube, rec } = client(FAST);
    const err = await rejection(kube.readLease('ns', 'fledge'));

    expect(err).toBeInstanceOf(KubeApiError);
    expect((err as KubeApiError).status).toBe(429);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.path).toBe('/apis/coordination.k8s.io/v1/namespaces/ns/leases/fledge');
    expect(rec.throttled).toEqual([]);
  });

  it('anything when throttleRetries is 0', async () => {
    handler = (_req, res) => throttled(res, '1');
    const { kube } = client({ ...FAST, throttleRetries: 0 });
    const err = await rejection(kube.list(ROLLOUTS, 'ns'));

    expect((err as KubeApiError).status).toBe(429);
    expect(seen).toHaveLength(1);
  });
});
