// bench/one-at-a-time.ts against the real uWS echo: every frame answered before the next, its latencies reported.
import { describe, expect, it } from 'vitest';
import { oneAtATime } from '../../bench/one-at-a-time.js';
import { startUwsEcho } from '../../bench/peers/uws-echo.js';

describe('one frame at a time', () => {
  it('sends each frame after the last accepted, and reports ordered latencies of all of them', async () => {
    const echo = await startUwsEcho(0);
    try {
      const result = await oneAtATime(`ws://127.0.0.1:${echo.port}/v1/chains/c/stream`, 40, 0);
      expect(result.samples).toBe(40);
      expect(result.p50).toBeGreaterThan(0);
      expect(result.p90).toBeGreaterThanOrEqual(result.p50);
      expect(result.p99).toBeGreaterThanOrEqual(result.p90);
    } finally {
      echo.close();
    }
  });

  it('fails, naming the cause, when nothing listens', async () => {
    const echo = await startUwsEcho(0);
    const port = echo.port;
    echo.close();
    await expect(oneAtATime(`ws://127.0.0.1:${port}/v1/chains/c/stream`, 3, 0)).rejects.toThrow(/ECONNREFUSED/);
  });
});
