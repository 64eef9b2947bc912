// Owns picking a free loopback TCP port (for the private Redis and for tests). A port is free when asked
// for but only bound later by whoever gets it, so this process never hands out the same port twice: two
// picks in a row (a test's nginx port, then the stack's Redis port) could otherwise collide.
import net from 'node:net';

const handedOut = new Set<number>();

function askKernel(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export async function freePort(): Promise<number> {
  for (;;) {
    const port = await askKernel();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}
