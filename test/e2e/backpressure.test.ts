// A client that stops reading is closed; its replies never pile up in the gateway.
import { describe, expect, it } from 'vitest';
import { once } from 'node:events';
import WebSocket from 'ws';
import { pack } from 'msgpackr';
import { StreamClient, registerCleanup, sleep, startGateway } from '../helpers/index.js';

describe('outbound backpressure', () => {
  it('closes a connection whose client does not read, and keeps serving everyone else', async () => {
    const gw = await startGateway({ config: { limits: { maxOutboundBytes: 64 * 1024 } } });
    const ws = new WebSocket(`ws://127.0.0.1:${gw.port}/v1/chains/deaf/stream`);
    registerCleanup('the deaf WebSocket', () => ws.terminate());
    await once(ws, 'open');
    // Stop reading from the socket: replies back up in the kernel, then in uWS.
    const socket = (ws as unknown as { _socket: { pause(): void } })._socket;
    socket.pause();
    const frame = pack(Array.from({ length: 64 }, (_, i) => Buffer.from([i])));
    let closed = false;
    ws.on('close', () => {
      closed = true;
    });
    // Each accepted reply carries 64 × 32 bytes of hashes: 20,000 of them are ~41 MB.
    for (let i = 0; i < 20_000 && !closed; i++) {
      ws.send(frame);
      if (i % 500 === 0) await sleep(5);
    }
    await expect.poll(async () => (await gw.json('/healthz')).connections, { timeout: 15_000, interval: 100 }).toBe(0);
    const other = await StreamClient.open(gw.port, 'listener');
    other.send(['still serving']);
    expect((await other.waitReplies(1))[0]).toMatchObject({ type: 'accepted', seq: 0 });
    other.close();
  });
});
