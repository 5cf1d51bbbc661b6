/**
 * The Informer's health against a real HTTP server speaking the list/watch protocol: lists are
 * allowed, watches are refused (RBAC without `watch`), slowly, as on a loaded API server. A
 * successful list or a connect attempt must never count as a working watch.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig, type KubernetesObject, type KubernetesListObject } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { Informer } from './informer.ts';
import type { Logger } from './log.ts';

interface Line { level: string; msg: string; [k: string]: unknown }

function recordingLogger(lines: Line[]): Logger {
  const at = (level: string) => (fields: object, msg: string) => { lines.push({ level, msg, ...fields }); };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

async function until(cond: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A list/watch endpoint for one resource; `watchAllowed` flips RBAC. */
function fakeApi() {
  const state = { watchAllowed: true, lists: 0, watchesRefused: 0, watchesOpened: 0, open: [] as ServerResponse[] };
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.searchParams.get('watch') !== 'true') {
      state.lists++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMapList', metadata: { resourceVersion: '7' }, items: [] }));
      return;
    }
    if (!state.watchAllowed) {
      // Refused after a delay longer than any "it has stood for a moment" heuristic.
      setTimeout(() => {
        state.watchesRefused++;
        res.writeHead(403, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ kind: 'Status', status: 'Failure', reason: 'Forbidden', code: 403 }));
      }, 2500);
      return;
    }
    state.watchesOpened++;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.flushHeaders();
    state.open.push(res);
  });
  return { server, state };
}

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function start(watchAllowed: boolean) {
  const { server, state } = fakeApi();
  state.watchAllowed = watchAllowed;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  const lines: Line[] = [];
  const informer = new Informer<KubernetesObject>(kc, {
    name: 'configmaps', path: '/api/v1/configmaps', log: recordingLogger(lines), maxBackoffMs: 200,
    list: async () => {
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/configmaps`);
      return (await res.json()) as KubernetesListObject<KubernetesObject>;
    },
  });
  cleanup.push(async () => {
    await informer.stop();
    for (const r of state.open) r.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  return { informer, state, lines };
}

describe('Informer health', () => {
  it('is healthy only once a watch stream is open', async () => {
    const { informer, state } = await start(true);
    await informer.start();
    await until(() => informer.healthy, 'the watch to open');
    expect(informer.synced).toBe(true);
    expect(state.watchesOpened).toBe(1);
  });

  it('a blind informer (lists allowed, watches refused slowly) never reports a restored watch', async () => {
    const { informer, state, lines } = await start(false);
    await informer.start();
    expect(informer.synced).toBe(true);
    // Three refusals, each after 2.5 s, with lists and reconnect attempts in between.
    await until(() => state.watchesRefused >= 3, 'three refused watches');
    expect(informer.healthy).toBe(false);
    expect(lines.filter((l) => l.msg === 'watch restored')).toEqual([]);
    expect(lines.filter((l) => l.msg === 'watch failed; restarting').length).toBeGreaterThanOrEqual(2);

    // RBAC grants watch again: it recovers by itself, and says so once.
    state.watchAllowed = true;
    await until(() => informer.healthy, 'the watch to be restored');
    expect(lines.filter((l) => l.msg === 'watch restored')).toHaveLength(1);
  }, 60_000);
});
