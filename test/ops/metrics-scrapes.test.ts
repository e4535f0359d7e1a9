// The front door collects the metrics at most once per 25 ms, and every
// scrape's answer is collected after the scrape arrived (src/http/api-routes.ts).
import { describe, expect, it } from 'vitest';
import { sharedScrapes } from '../../src/http/index.js';

/** A collector whose text is the count written so far, and which counts its collections. */
class Counter {
  written = 0;
  collections = 0;
  readonly scrapes = sharedScrapes({
    contentType: 'text/plain',
    metrics: () => {
      this.collections++;
      return Promise.resolve(`written ${this.written}`);
    },
  });
}

describe('shared scrapes', () => {
  it('answers a scrape made just after a write with the write counted', async () => {
    const c = new Counter();
    expect(await c.scrapes.metrics()).toBe('written 0');
    c.written = 1;
    expect(await c.scrapes.metrics()).toBe('written 1');
    c.written = 2;
    expect(await c.scrapes.metrics()).toBe('written 2');
    expect(c.collections).toBe(3);
  });

  it('collects once for every scrape that arrives while one waits', async () => {
    const c = new Counter();
    await c.scrapes.metrics();
    c.written = 5;
    const waiting = Array.from({ length: 100 }, () => c.scrapes.metrics());
    c.written = 6;
    const texts = await Promise.all(waiting);
    // One collection for the hundred, made after the last of them arrived.
    expect(new Set(texts)).toEqual(new Set(['written 6']));
    expect(c.collections).toBe(2);
  });

  it('collects at once when the last collection is older than the bound', async () => {
    const c = new Counter();
    await c.scrapes.metrics();
    await new Promise((resolve) => setTimeout(resolve, 40));
    c.written = 1;
    const text = c.scrapes.metrics();
    expect(c.collections).toBe(2);
    expect(await text).toBe('written 1');
  });
});
