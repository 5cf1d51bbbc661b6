import { createHash } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';

interface Closable { close?: () => Promise<void> }
type CreateDispatcher = (cluster: unknown, agentOptions: Record<string, unknown>) => unknown;

const SHARED = Symbol('fledge.sharedConnections');

/**
 * Makes every request made with `kc` share one connection pool.
 *
 * client-node (2.0) builds a new undici Agent in `KubeConfig.createDispatcher` for every request
 * that needs TLS options (any real cluster: a CA, a client certificate or skip-verify), so each
 * request opened its own TLS connection: a handshake per request on both sides, and a pool per
 * request left to time out. `npm run bench:scale` measured it: one TLS connection per request,
 * and most of the API server's CPU per write spent on handshakes.
 *
 * Here the Agent is kept and reused for as long as the TLS settings it was made from are the same
 * (they are re-read per request, so a rotated client certificate still gets a new Agent; the old
 * one is closed once its requests are done). Idempotent. If client-node ever drops the method,
 * this does nothing.
 */
export function shareConnections(kc: KubeConfig): KubeConfig {
  const k = kc as unknown as { createDispatcher?: CreateDispatcher; [SHARED]?: true };
  if (k[SHARED] || typeof k.createDispatcher !== 'function') return kc;
  const create = k.createDispatcher.bind(kc);
  let current: { key: string; dispatcher: unknown } | undefined;
  k.createDispatcher = (cluster, agentOptions) => {
    const key = fingerprint(cluster, agentOptions);
    if (current?.key === key) return current.dispatcher;
    const previous = current?.dispatcher as Closable | undefined;
    current = { key, dispatcher: create(cluster, agentOptions) };
    // Graceful: requests (and watches) still running on the old pool finish first.
    void previous?.close?.().catch(() => {});
    return current.dispatcher;
  };
  k[SHARED] = true;
  return kc;
}

/** A digest of the cluster and the TLS options: certificates and keys arrive as fresh Buffers every time. */
function fingerprint(cluster: unknown, agentOptions: Record<string, unknown>): string {
  const h = createHash('sha256');
  h.update(JSON.stringify(cluster ?? null));
  for (const k of Object.keys(agentOptions).sort()) {
    const v = agentOptions[k];
    if (v === undefined) continue;
    h.update(`\0${k}=`);
    if (Buffer.isBuffer(v)) h.update(v);
    else h.update(JSON.stringify(v) ?? String(v));
  }
  return h.digest('base64');
}
