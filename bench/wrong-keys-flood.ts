// One process of the wrong-keys scenario's flood (wrong-keys.ts): requests with
// wrong keys (half malformed, refused by the checksum alone; half well-formed
// and unknown) over keep-alive connections, each sent once the one before it
// was answered, from `init` until `stop`. It says `started` once every
// connection has had answers, and at the end reports what was answered.
import { request, Agent } from 'node:http';
import { randomBytes } from 'node:crypto';

export interface FloodInit {
  type: 'init';
  /** http://host:port */
  base: string;
  /** A route that needs a key. */
  path: string;
  connections: number;
}

/** Every connection is up and being answered: the flood is at full strength. */
export interface FloodStarted {
  type: 'started';
}

export interface FloodReport {
  type: 'done';
  requests: number;
  statuses: Record<string, number>;
  seconds: number;
}

/** Keys the gateway must refuse: two shaped like keys, one with a bad checksum, one not a key at all. */
function wrongKeys(): string[] {
  const base32 = (n: number): string => Array.from(randomBytes(n), (b) => 'abcdefghijklmnopqrstuvwxyz234567'[b % 32]).join('');
  return [`clk_${base32(36)}`, `clk_${base32(36)}`, `clk_${'a'.repeat(36)}`, 'Bearer-ish nonsense'];
}

function main(): void {
  let stopping = false;
  process.on('message', (msg: FloodInit | { type: 'stop' }) => {
    if (msg.type === 'stop') {
      stopping = true;
      return;
    }
    const url = new URL(msg.base);
    const agent = new Agent({ keepAlive: true, maxSockets: msg.connections });
    const keys = wrongKeys();
    const statuses: Record<string, number> = {};
    let requests = 0;
    const started = performance.now();
    const one = (i: number): Promise<void> =>
      new Promise((resolve) => {
        const req = request(
          { host: url.hostname, port: url.port, path: msg.path, agent, headers: { authorization: `Bearer ${keys[i % keys.length]}` } },
          (res) => {
            statuses[String(res.statusCode)] = (statuses[String(res.statusCode)] ?? 0) + 1;
            res.resume();
            res.on('end', resolve);
          },
        );
        req.on('error', () => {
          statuses.error = (statuses.error ?? 0) + 1;
          resolve();
        });
        req.end();
      });
    const loop = async (w: number): Promise<void> => {
      for (let i = w; !stopping; i += msg.connections) {
        await one(i);
        if (++requests === 4 * msg.connections) process.send?.({ type: 'started' } satisfies FloodStarted);
      }
    };
    void Promise.all(Array.from({ length: msg.connections }, (_, w) => loop(w))).then(() => {
      const report: FloodReport = { type: 'done', requests, statuses, seconds: (performance.now() - started) / 1000 };
      process.send?.(report, () => process.exit(0));
    });
  });
  process.on('disconnect', () => process.exit(0));
}

main();
