import { createServer, type AddressInfo, type Server } from 'node:net';

/**
 * Returns `count` distinct free loopback ports. All listeners are held open until every
 * port is known, so the kernel cannot hand out the same port twice; another process may
 * still take one before our child binds it, which is rare enough for a test harness.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', resolve);
      });
    }
    return servers.map((s) => (s.address() as AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}
