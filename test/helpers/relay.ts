// A gateway's one address across restarts: a TCP relay to whichever gateway
// it is pointed at now, as a load balancer in front would be. A restarted
// gateway gets a new ephemeral port (its old one may sit in TIME_WAIT), but a
// monitor knows a gateway by its URL. The gateway must allow the relay's Host
// (allowedHosts).
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { registerCleanup } from './cleanup.js';
import type { ChildGateway } from './gateway.js';

export async function stableAddress(first: ChildGateway): Promise<{ url: string; to(gw: ChildGateway): void }> {
  let target = first.port;
  const sockets = new Set<Socket>();
  const relay = createServer((client) => {
    const upstream = connect(target, '127.0.0.1');
    client.pipe(upstream).pipe(client);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', end);
      socket.on('close', () => {
        sockets.delete(socket);
        end();
      });
    }
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', () => resolve()));
  registerCleanup(
    'relay',
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        relay.close(() => resolve());
      }),
  );
  return {
    url: `http://127.0.0.1:${(relay.address() as AddressInfo).port}`,
    to: (gw) => {
      target = gw.port;
    },
  };
}
