// A gateway's one address across restarts: a TCP relay to whichever gateway
// it is pointed at now, as a load balancer in front would be. A restarted
// gateway gets a new ephemeral port (its old one may sit in TIME_WAIT), but a
// monitor knows a gateway by its URL. The gateway must allow the relay's Host
// (allowedHosts).
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { registerCleanup } from './cleanup.js';
import type { ChildGateway } from './gateway.js';

export interface StableAddress {
  url: string;
  /** New connections go to `gw`; open ones stay where they are. */
  to(gw: ChildGateway): void;
  /** Open connections stop passing the gateway's bytes on: what it sends is held, unread, until `cut`. */
  holdReplies(): void;
  /** Every open connection is dropped at once (both sides see a reset or an end); new ones pass again. */
  cut(): void;
}

export async function stableAddress(first: ChildGateway): Promise<StableAddress> {
  let target = first.port;
  const sockets = new Set<Socket>();
  const pairs = new Set<{ client: Socket; upstream: Socket }>();
  const relay = createServer((client) => {
    const upstream = connect(target, '127.0.0.1');
    client.pipe(upstream).pipe(client);
    const pair = { client, upstream };
    pairs.add(pair);
    upstream.on('close', () => pairs.delete(pair));
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
    holdReplies: () => {
      for (const { client, upstream } of pairs) {
        upstream.unpipe(client);
        upstream.pause();
      }
    },
    cut: () => {
      for (const socket of sockets) socket.destroy();
    },
  };
}
