/**
 * PrometheusProvider against real HTTP: a node:http server on 127.0.0.1 scripted per test.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CredentialsError, fileCredentials } from './credentials.ts';
import { BODY_MAX_BYTES, PrometheusProvider, POST_THRESHOLD, parseSampleValue, type PrometheusProviderOptions } from './prometheus.ts';
import { MetricsError, MultipleSeriesError, NoDataError, QueryError, UnavailableError } from './provider.ts';
import { rejection } from '../../test/support/rejection.ts';

interface Seen {
  method: string;
  path: string;
  params: URLSearchParams;
  headers: IncomingMessage['headers'];
}
type Handler = (req: Seen, res: ServerResponse, attempt: number) => void;

let server: Server;
let base: string;
let handler: Handler;
let seen: Seen[];
let dir: string;

const json = (res: ServerResponse, status: number, body: unknown) =>
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
const vector = (...samples: [Record<string, string>, string][]) => ({
  status: 'success',
  data: { resultType: 'vector', result: samples.map(([metric, v]) => ({ metric, value: [1700000000.123, v] })) },
});
const ok = (v: string) => vector([{}, v]);
/** Answers each attempt in turn with the given responses (the last one repeats). */
const script = (...steps: ((res: ServerResponse) => void)[]): Handler => (_req, res, attempt) =>
  (steps[Math.min(attempt, steps.length) - 1] ?? steps[0]!)(res);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fledge-prom-test-'));
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const params = req.method === 'POST' ? new URLSearchParams(Buffer.concat(chunks).toString()) : url.searchParams;
      const s = { method: req.method ?? '', path: url.pathname, params, headers: req.headers };
      seen.push(s);
      handler(s, res, seen.length);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  seen = [];
  handler = (_req, res) => json(res, 200, ok('1'));
});

const provider = (opts: Partial<PrometheusProviderOptions> = {}) => new PrometheusProvider({ address: base, timeoutMs: 1000, ...opts });

describe('results', () => {
  it.each([
    ['a one-sample vector', ok('0.25'), 0.25],
    ['NaN', ok('NaN'), Number.NaN],
    ['+Inf', ok('+Inf'), Infinity],
    ['-Inf', ok('-Inf'), -Infinity],
    ['exponent notation', ok('1.5e-7'), 1.5e-7],
    ['a scalar', { status: 'success', data: { resultType: 'scalar', result: [1700000000, '42'] } }, 42],
  ])('%s', async (_what, body, expected) => {
    handler = (_req, res) => json(res, 200, body);
    expect(await provider().query('x')).toBe(expected);
  });

  it('an empty vector is NoDataError, not retried', async () => {
    handler = (_req, res) => json(res, 200, vector());
    const err = await rejection(provider().query('x'));
    expect(err).toBeInstanceOf(NoDataError);
    expect((err as MetricsError).kind).toBe('nodata');
    expect(seen).toHaveLength(1);
  });

  it('several series is MultipleSeriesError listing up to 3 label sets', async () => {
    handler = (_req, res) => json(res, 200, vector(
      [{ destination_version: 'v1' }, '1'], [{ destination_version: 'v2' }, '2'], [{ destination_version: 'v3', code: '500' }, '3'],
      [{ destination_version: 'v4' }, '4'], [{ destination_version: 'v5' }, '5'],
    ));
    const err = await rejection(provider().query('x'));
    expect(err).toBeInstanceOf(MultipleSeriesError);
    expect((err as MultipleSeriesError).count).toBe(5);
    expect(err.message).toContain('5 series');
    expect(err.message).toContain('{destination_version="v1"}, {destination_version="v2"}, {destination_version="v3", code="500"} and 2 more');
    expect(err.message).not.toContain('v4');
    expect(seen).toHaveLength(1);
  });

  it('a range vector is a QueryError', async () => {
    handler = (_req, res) => json(res, 200, { status: 'success', data: { resultType: 'matrix', result: [] } });
    expect(await rejection(provider().query('x[1m]'))).toBeInstanceOf(QueryError);
  });

  it.each([
    ['not JSON', (res: ServerResponse) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>login</html>'), /^Prometheus at http:\/\/127\.0\.0\.1:\d+ answered HTTP 200 OK \(text\/html\), which is not the Prometheus query API's JSON/],
    ['a malformed sample', (res: ServerResponse) => json(res, 200, ok('fast')), /malformed sample value$/],
  ])('%s is UnavailableError, not retried', async (_what, reply, message) => {
    handler = (_req, res) => reply(res);
    const err = await rejection(provider().query('x'));
    expect(err).toBeInstanceOf(UnavailableError);
    expect(err.message).toMatch(message);
    expect(seen).toHaveLength(1);
  });

  it.each([
    ['NaN', Number.NaN], ['+Inf', Infinity], ['Inf', Infinity], ['-Inf', -Infinity], ['0', 0], ['-1.5', -1.5], ['', undefined], ['x', undefined],
  ])('parseSampleValue(%j)', (raw, expected) => {
    expect(parseSampleValue(raw)).toBe(expected);
  });
});

describe('queryVector', () => {
  it.each([
    ['an empty vector is no series, not an error', vector(), []],
    ['several series keep their labels', vector([{ response_code: '200' }, '12'], [{ response_code: '503' }, '3.5']),
      [{ labels: { response_code: '200' }, value: 12 }, { labels: { response_code: '503' }, value: 3.5 }]],
    ['a scalar is one series without labels', { status: 'success', data: { resultType: 'scalar', result: [1700000000, '7'] } }, [{ labels: {}, value: 7 }]],
  ])('%s', async (_what, body, expected) => {
    handler = (_req, res) => json(res, 200, body);
    expect(await provider().queryVector('x')).toEqual(expected);
    expect(seen).toHaveLength(1);
  });

  it('a range vector is a QueryError, a 503 is retried like query()', async () => {
    handler = (_req, res) => json(res, 200, { status: 'success', data: { resultType: 'matrix', result: [] } });
    expect(await rejection(provider().queryVector('x[1m]'))).toBeInstanceOf(QueryError);
    seen = [];
    handler = script((res) => json(res, 503, { status: 'error', errorType: 'unavailable', error: 'busy' }), (res) => json(res, 200, ok('1')));
    expect(await provider().queryVector('x')).toEqual([{ labels: {}, value: 1 }]);
    expect(seen).toHaveLength(2);
  });
});

describe('requests', () => {
  it('GETs /api/v1/query with the query and a Prometheus timeout below ours', async () => {
    await provider({ address: `${base}/`, timeoutMs: 2000 }).query('sum(up{job="a b"})');
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: 'GET', path: '/api/v1/query' });
    expect(seen[0]!.params.get('query')).toBe('sum(up{job="a b"})');
    expect(seen[0]!.params.get('timeout')).toBe('1800ms');
    expect(seen[0]!.params.has('time')).toBe(false);
    expect(seen[0]!.headers.authorization).toBeUndefined();
  });

  it('keeps a path prefix and passes the evaluation time', async () => {
    await provider({ address: `${base}/prom//` }).query('up', { time: new Date(1_700_000_000_500) });
    expect(seen[0]!.path).toBe('/prom/api/v1/query');
    expect(seen[0]!.params.get('time')).toBe('1700000000.500');
  });

  it(`POSTs a form when the query is longer than ${POST_THRESHOLD} characters`, async () => {
    const long = `sum(up{job=~"${'a|'.repeat(1100)}b"})`;
    await provider().query(long);
    expect(seen[0]).toMatchObject({ method: 'POST', path: '/api/v1/query' });
    expect(seen[0]!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(seen[0]!.params.get('query')).toBe(long);
    expect(seen[0]!.params.get('timeout')).toBe('900ms');
    await provider().query('sum(up)');
    expect(seen[1]!.method).toBe('GET');
  });
});

describe('errors and retries', () => {
  it.each([
    [400, 'bad_data', 'invalid parameter "query": 1:5: parse error: unexpected "}"'],
    [422, 'execution', 'found duplicate series for the match group'],
  ])('HTTP %s %s is QueryError, never retried', async (status, errorType, error) => {
    handler = (_req, res) => json(res, status, { status: 'error', errorType, error });
    const err = await rejection(provider().query('sum(up}'));
    expect(err).toBeInstanceOf(QueryError);
    expect((err as QueryError).errorType).toBe(errorType);
    expect(err.message).toContain(error);
    expect(seen).toHaveLength(1);
  });

  it('retries a 500 and succeeds on the second attempt', async () => {
    handler = script((res) => res.writeHead(500).end('boom'), (res) => json(res, 200, ok('7')));
    const outcomes: string[] = [];
    expect(await provider({ onQuery: (_q, _ms, o) => outcomes.push(o) }).query('x')).toBe(7);
    expect(seen).toHaveLength(2);
    expect(outcomes).toEqual(['ok']);
  });

  it.each([
    ['503 timeout', (res: ServerResponse) => json(res, 503, { status: 'error', errorType: 'timeout', error: 'query timed out in expression evaluation' })],
    ['502 from a proxy', (res: ServerResponse) => res.writeHead(502).end('Bad Gateway')],
    ['429', (res: ServerResponse) => res.writeHead(429).end('slow down')],
  ])('gives up on %s after 1 + retries attempts', async (_what, reply) => {
    handler = (_req, res) => reply(res);
    const outcomes: string[] = [];
    const t0 = performance.now();
    const err = await rejection(provider({ onQuery: (_q, _ms, o) => outcomes.push(o) }).query('x'));
    const ms = performance.now() - t0;
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as UnavailableError).transient).toBe(true);
    expect(seen).toHaveLength(3);
    expect(ms).toBeGreaterThanOrEqual(1150); // backoff 200 ms + 1 s
    expect(ms).toBeLessThan(3000);
    expect(outcomes).toEqual(['unavailable']);
  });

  it('honours retries: 0', async () => {
    handler = (_req, res) => res.writeHead(500).end();
    await rejection(provider({ retries: 0 }).query('x'));
    expect(seen).toHaveLength(1);
  });

  it('times out a hanging server per attempt and gives up within ~timeout × attempts + backoff', async () => {
    handler = () => {
      // never answers
    };
    const t0 = performance.now();
    const err = await rejection(provider({ timeoutMs: 300 }).query('x'));
    const ms = performance.now() - t0;
    expect(err).toBeInstanceOf(UnavailableError);
    expect(err.message).toMatch(/did not answer within 300 ms/);
    expect(seen).toHaveLength(3);
    expect(ms).toBeGreaterThanOrEqual(3 * 300 + 1200 - 50);
    expect(ms).toBeLessThan(3 * 300 + 1200 + 2000); // slack for a loaded CI machine
  });

  it('times out a server that sends headers and then stalls the body', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"status":"succ');
    };
    const err = await rejection(provider({ timeoutMs: 200, retries: 1 }).query('x'));
    expect(err).toBeInstanceOf(UnavailableError);
    expect(seen).toHaveLength(2);
  });

  it('retries a refused connection', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const attempts: number[] = [];
    const t0 = performance.now();
    const err = await rejection(new PrometheusProvider({
      address: `http://127.0.0.1:${port}`, timeoutMs: 1000,
      fetch: (input, init) => {
        attempts.push(performance.now() - t0);
        return fetch(input, init);
      },
    }).query('x'));
    expect(err).toBeInstanceOf(UnavailableError);
    expect(err.message).toMatch(/cannot reach Prometheus at http:\/\/127\.0\.0\.1:\d+: connect ECONNREFUSED/);
    expect(attempts).toHaveLength(3);
  });

  it.each([
    [401, /HTTP 401 Unauthorized \(no content type\) \(the provider's credentials are refused/],
    [403, /HTTP 403 Forbidden/],
    [404, /HTTP 404 Not Found \(no content type\) \(is the address/],
  ])('HTTP %s is UnavailableError, not retried', async (status, message) => {
    handler = (_req, res) => res.writeHead(status).end();
    const err = await rejection(provider().query('x'));
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as UnavailableError).status).toBe(status);
    expect((err as UnavailableError).transient).toBe(false);
    expect(err.message).toMatch(message);
    expect(seen).toHaveLength(1);
  });

  it('rejects with the caller\'s abort reason and stops retrying', async () => {
    handler = () => {
      // never answers
    };
    const ac = new AbortController();
    const outcomes: string[] = [];
    const p = provider({ timeoutMs: 5000, onQuery: (_q, _ms, o) => outcomes.push(o) }).query('x', { signal: ac.signal });
    setTimeout(() => ac.abort(new Error('shutting down')), 100);
    const err = await rejection(p);
    expect(err.message).toBe('shutting down');
    expect(seen).toHaveLength(1);
    expect(outcomes).toEqual(['aborted']);
    await expect(provider().query('x', { signal: AbortSignal.abort(new Error('already')) })).rejects.toThrow('already');
  });

  it('refuses an address with credentials without calling it, and never shows them', async () => {
    const p = new PrometheusProvider({ address: `http://admin:hunter2@127.0.0.1:1`, timeoutMs: 500 });
    expect(p.address).not.toContain('hunter2');
    const err = await rejection(p.query('x'));
    expect(err).toBeInstanceOf(UnavailableError);
    expect(err.message).toMatch(/must not contain credentials/);
    expect(err.message).not.toContain('hunter2');
  });
});

describe('no reflection of what a server answers', () => {
  // What a cloud metadata service, an admin page or a login proxy could answer: none of it may
  // reach an error message (which becomes status.lastAnalysis.reason, Events and logs).
  const LEAK = 'Leak-7f3a9c';
  const reply = (status: number, contentType: string, body: string, reason?: string) => (res: ServerResponse) =>
    (reason ? res.writeHead(status, reason, { 'content-type': contentType }) : res.writeHead(status, { 'content-type': contentType })).end(body);
  it.each([
    ['plain text', reply(200, 'text/plain', `ami-id\ninstance-id\n${LEAK}`)],
    ['HTML', reply(200, 'text/html; charset=utf-8', `<html><title>${LEAK}</title></html>`)],
    ['JSON of another shape', reply(200, 'application/json', JSON.stringify({ AccessKeyId: LEAK, Token: LEAK }))],
    ['JSON with status success but no data object', reply(200, 'application/json', JSON.stringify({ status: 'success', data: LEAK }))],
    ['an unknown result type', reply(200, 'application/json', JSON.stringify({ status: 'success', data: { resultType: LEAK, result: [] } }))],
    ['a sample value that is not a number', reply(200, 'application/json', JSON.stringify(vector([{}, LEAK])))],
    ['an error JSON with an errorType Prometheus never uses', reply(400, 'application/json', JSON.stringify({ status: 'error', errorType: LEAK, error: LEAK }))],
    ['an error JSON that is not served as JSON', reply(400, 'text/plain', JSON.stringify({ status: 'error', errorType: 'bad_data', error: LEAK }))],
    ['an error JSON whose error is not a string', reply(422, 'application/json', JSON.stringify({ status: 'error', errorType: 'execution', error: { x: LEAK } }))],
    ['a 404 page', reply(404, 'text/html', `<h1>${LEAK}</h1>`)],
    ['a 503 page (retried)', reply(503, 'text/plain', LEAK)],
    ['a reason phrase of its own', reply(200, 'text/plain', 'x', LEAK)],
    ['a content type that is not one', reply(200, `text/plain ${LEAK} <script>`, 'x')],
  ])('%s: status code and content type only', async (_what, answer) => {
    handler = (_req, res) => answer(res);
    const err = await rejection(provider().query('x'));
    expect(err).toBeInstanceOf(MetricsError);
    expect(err.message).toMatch(/^Prometheus at http:\/\/127\.0\.0\.1:\d+ answered /);
    expect(err.message.toLowerCase()).not.toContain(LEAK.toLowerCase());
  });

  it('never follows a redirect: the address it points to gets no request, nor the credentials', async () => {
    const elsewhere: string[] = [];
    const other = createServer((req, res) => {
      elsewhere.push(req.headers.authorization ?? '(none)');
      json(res, 200, ok('1'));
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    try {
      const target = `http://127.0.0.1:${(other.address() as AddressInfo).port}/api/v1/query`;
      handler = (_req, res) => res.writeHead(307, { location: target }).end();
      const err = await rejection(provider({ auth: { type: 'bearer', credentials: async () => 'tok-redirected' } }).query('x'));
      expect(err).toBeInstanceOf(UnavailableError);
      expect(err.message).toMatch(/answered HTTP 307 Temporary Redirect \(no content type\) \(a redirect, which is never followed/);
      expect(err.message).not.toContain(target);
      expect(elsewhere).toEqual([]);
      expect(seen).toHaveLength(1);
    } finally {
      other.closeAllConnections();
      await new Promise<void>((resolve) => other.close(() => resolve()));
    }
  });

  it('bounds the label sets a several-series answer shows', async () => {
    const labels = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`l${i}`, 'v'.repeat(5000)]));
    handler = (_req, res) => json(res, 200, vector([labels, '1'], [{ a: 'b' }, '2']));
    const err = await rejection(provider().query('x'));
    expect(err).toBeInstanceOf(MultipleSeriesError);
    expect(err.message).toContain(`l0="${'v'.repeat(100)}..."`);
    expect(err.message).toContain('... 2 more}');
    expect(err.message.length).toBeLessThan(2000);
  });

  it(`stops reading an answer past ${BODY_MAX_BYTES / 1024 / 1024} MiB: a server cannot fill the controller's memory`, async () => {
    // Streamed without Content-Length, as a server that means harm would; 128 MiB on offer.
    const chunk = Buffer.alloc(1024 * 1024, ' ');
    let written = 0;
    let closed!: () => void;
    const gone = new Promise<void>((resolve) => { closed = resolve; });
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.on('close', closed);
      const pump = () => {
        while (written < 128 && !res.destroyed) {
          written++;
          if (!res.write(chunk)) { res.once('drain', pump); return; }
        }
        res.end();
      };
      pump();
    };
    const err = await rejection(provider({ timeoutMs: 60_000 }).query('x'));
    expect(err).toBeInstanceOf(UnavailableError);
    expect(err.message).toMatch(/answered HTTP 200 OK \(application\/json\) with more than 16 MiB, which no instant query of Fledge's needs: not read$/);
    expect(seen).toHaveLength(1); // not retried
    await gone;
    // The client hung up: the server got to write little beyond the bound (socket buffers).
    expect(written).toBeLessThan(64);
  });

  it('refuses an answer whose Content-Length is past the bound without reading it', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(BODY_MAX_BYTES + 1) });
      res.write('{"status":"success"');
    };
    const err = await rejection(provider().query('x'));
    expect(err).toBeInstanceOf(UnavailableError);
    expect(err.message).toContain('with more than 16 MiB');
  });

  it('quotes Prometheus\'s own error, on one line and cut at 500 characters', async () => {
    handler = (_req, res) => json(res, 422, { status: 'error', errorType: 'execution', error: `line one\nline\u0007two ${'x'.repeat(1000)}` });
    const err = await rejection(provider().query('x'));
    expect(err).toBeInstanceOf(QueryError);
    expect(err.message).toMatch(/\(execution\): line one line two x+\.\.\.$/);
    expect(err.message.length).toBeLessThan(600);
  });
});

describe('auth', () => {
  const echoAuth: Handler = (req, res) => json(res, 500, { status: 'error', errorType: 'internal', error: `got ${req.headers.authorization}` });

  it('sends a bearer token', async () => {
    await provider({ auth: { type: 'bearer', credentials: async () => 'tok-123' } }).query('x');
    expect(seen[0]!.headers.authorization).toBe('Bearer tok-123');
  });

  it('sends basic credentials as base64 of user:password', async () => {
    await provider({ auth: { type: 'basic', credentials: async () => 'fledge:s3cr:et' } }).query('x');
    expect(seen[0]!.headers.authorization).toBe(`Basic ${Buffer.from('fledge:s3cr:et').toString('base64')}`);
  });

  it('picks up a rotated credentials file at the next query', async () => {
    const file = join(dir, 'token');
    await writeFile(file, 'first-token\n');
    const p = provider({ auth: { type: 'bearer', credentials: fileCredentials(file) } });
    await p.query('x');
    await writeFile(file, '  second-token  \n');
    await p.query('x');
    expect(seen.map((s) => s.headers.authorization)).toEqual(['Bearer first-token', 'Bearer second-token']);
  });

  it('names an unreadable credentials file and does not call Prometheus', async () => {
    const missing = join(dir, 'nope');
    await expect(fileCredentials(missing)()).rejects.toThrow(CredentialsError);
    const err = await rejection(provider({ auth: { type: 'bearer', credentials: fileCredentials(missing) } }).query('x'));
    expect(err).toBeInstanceOf(UnavailableError);
    expect(err.message).toBe(`cannot read Prometheus credentials from ${missing}: no such file (is the Secret mounted?)`);
    expect(seen).toHaveLength(0);
    const empty = join(dir, 'empty');
    await writeFile(empty, '\n');
    await expect(fileCredentials(empty)()).rejects.toThrow(`cannot read Prometheus credentials from ${empty}: the file is empty`);
  });

  it.each([
    ['bearer', 'bad token\nX-Evil: 1', /printable ASCII/],
    ['basic', 'no-colon-here', /user:password/],
  ] as const)('refuses malformed %s credentials without quoting them', async (type, secret, message) => {
    const err = await rejection(provider({ auth: { type, credentials: async () => secret } }).query('x'));
    expect(err).toBeInstanceOf(UnavailableError);
    expect(err.message).toMatch(message);
    expect(err.message).not.toContain(secret);
    expect(seen).toHaveLength(0);
  });

  it.each([
    ['bearer', 'tok-SECRET-999', ['tok-SECRET-999']],
    ['basic', 'user:pa55-SECRET', ['pa55-SECRET', Buffer.from('user:pa55-SECRET').toString('base64')]],
  ] as const)('redacts %s credentials that a server echoes into an error', async (type, secret, hidden) => {
    handler = echoAuth;
    const err = await rejection(provider({ retries: 0, auth: { type, credentials: async () => secret } }).query('x'));
    expect(err).toBeInstanceOf(UnavailableError);
    expect(err.message).toContain('<redacted>');
    for (const h of hidden) expect(err.message).not.toContain(h);
  });
});
