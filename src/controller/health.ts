import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

export interface HealthSources {
  registry: Registry;
  /** Ready: caches are synced and their watches connected. */
  ready: () => { ok: boolean; detail: string };
}

/** /metrics, /healthz and /readyz on one port, as Kubernetes probes and Prometheus expect. */
export async function startHealthServer(address: string, sources: HealthSources): Promise<{ server: Server; port: number }> {
  const [host, portText] = splitAddress(address);
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const { ok, detail } = sources.ready();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(`${detail}\n`);
    } else if (path === '/metrics') {
      sources.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': sources.registry.contentType }).end(text),
        (err: Error) => res.writeHead(500).end(err.message),
      );
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(portText), host, () => resolve());
  });
  const addr = server.address();
  return { server, port: typeof addr === 'object' && addr ? addr.port : Number(portText) };
}

function splitAddress(address: string): [string, string] {
  const i = address.lastIndexOf(':');
  if (i < 0) return ['0.0.0.0', address];
  return [address.slice(0, i) || '0.0.0.0', address.slice(i + 1)];
}
