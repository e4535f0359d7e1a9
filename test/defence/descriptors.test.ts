// The connection bounds derived from the file-descriptor limit.
import { describe, expect, it } from 'vitest';
import { closeSync, openSync } from 'node:fs';
import { DescriptorWatch, connectionBounds, descriptorLimit, openDescriptors } from '../../src/defence/index.js';

const derived = { maxConnections: null, maxConnectionsPerAddress: null };

describe('connection bounds', () => {
  it('derives the limits from the descriptors left after those in use and a reserve of 10 %, at least 64', () => {
    expect(connectionBounds(derived, 1024, 47)).toEqual({
      maxConnections: 1024 - 47 - 103,
      maxConnectionsPerAddress: Math.floor((1024 - 47 - 103) / 2),
      descriptorLimit: 1024,
      descriptorsInUse: 47,
      lowAt: 1024 - 51,
      okBelow: 1024 - 77,
      stopListeningAt: 1024 - 25,
    });
    expect(connectionBounds(derived, 256, 47)).toMatchObject({ maxConnections: 256 - 47 - 64, lowAt: 256 - 32, okBelow: 256 - 48, stopListeningAt: 256 - 16 });
    expect(connectionBounds(derived, 65_536, 200)).toMatchObject({ maxConnections: 65_536 - 200 - 6554 });
  });

  it('keeps configured limits that fit, and refuses one the descriptors cannot hold', () => {
    expect(connectionBounds({ maxConnections: 20, maxConnectionsPerAddress: 50 }, 1024, 47)).toMatchObject({
      maxConnections: 20,
      maxConnectionsPerAddress: 50,
    });
    expect(connectionBounds({ maxConnections: 5000, maxConnectionsPerAddress: null }, 1024, 47)).toEqual([
      expect.stringMatching(
        /^limits\.maxConnections: 5000 is more than the file-descriptor limit allows: of 1024 descriptors, 47 are in use and 103 are kept in reserve, so at most 874; raise the limit/,
      ),
    ]);
    expect(connectionBounds(derived, 100, 47)).toEqual([expect.stringMatching(/^the file-descriptor limit of 100 leaves no room for connections/)]);
    // Off Linux the limit is unknown: a configured number is taken as it is.
    expect(connectionBounds({ maxConnections: 5000, maxConnectionsPerAddress: null }, null, 10)).toMatchObject({ maxConnections: 5000, descriptorLimit: null });
  });

  it.skipIf(process.platform !== 'linux')("reads this process's limit and its open descriptors", () => {
    expect(descriptorLimit()).toBeGreaterThan(0);
    expect(openDescriptors()).toBeGreaterThan(2);
  });
});

describe.skipIf(process.platform !== 'linux')('the descriptor watch', () => {
  it('says when descriptors run low, stops listening near the limit, and listens again and is ok once they are back', async () => {
    const events: string[] = [];
    const open = openDescriptors()!;
    // Bounds just above what this process holds now, so a few files cross them.
    const watch = new DescriptorWatch(
      { okBelow: open + 4, lowAt: open + 8, stopListeningAt: open + 16 },
      {
        low: () => events.push('low'),
        ok: () => events.push('ok'),
        stopListening: () => events.push('stop listening'),
        listenAgain: () => events.push('listen again'),
      },
      20,
      5,
    );
    const files: number[] = [];
    try {
      watch.start();
      while (files.length < 10) files.push(openSync('/dev/null', 'r'));
      await expect.poll(() => events, { timeout: 5_000 }).toEqual(['low']);
      expect(watch.low).toBe(true);
      expect(watch.listening).toBe(true);
      while (files.length < 24) files.push(openSync('/dev/null', 'r'));
      await expect.poll(() => events, { timeout: 5_000 }).toEqual(['low', 'stop listening']);
      expect(watch.listening).toBe(false);
      expect(watch.listenStops).toBe(1);
      // Back below lowAt: listening again, still low; below okBelow: ok.
      while (files.length > 4) closeSync(files.pop()!);
      await expect.poll(() => events, { timeout: 5_000 }).toEqual(['low', 'stop listening', 'listen again']);
      while (files.length > 0) closeSync(files.pop()!);
      await expect.poll(() => events, { timeout: 5_000 }).toEqual(['low', 'stop listening', 'listen again', 'ok']);
      expect(watch.low).toBe(false);
      expect(watch.episodes).toBe(1);
    } finally {
      watch.stop();
      for (const fd of files) closeSync(fd);
    }
  });
});
