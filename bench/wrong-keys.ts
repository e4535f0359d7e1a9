// Wrong keys: a paying client's round trips (one entry, sent once the last was
// accepted) for a while alone, then as long beside a flood of requests with
// wrong keys from another process, against the same gateway with credits on. The e2e test
// (test/e2e/credits-durability.test.ts) shows only that every wrong key is
// refused 401 and every ping accepted; what the flood costs the paying client
// is measured here, as the ratio of its latencies flooded ÷ alone.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Packr, Unpackr } from 'msgpackr';
import WebSocket from 'ws';
import type { LoadTarget } from './load.js';
import { fmtInt, fmtRatio, fmtUs, table } from './report.js';
import { newHistogram, summarize, type LatencySummary } from './stats.js';
import type { FloodInit, FloodReport, FloodStarted } from './wrong-keys-flood.js';

/** The paying client's chain (provisioned with credits by the run). */
export const WRONG_KEYS_CHAIN = 'bench-paying';
/** Keep-alive connections of the flood: as many as the e2e test uses. */
const FLOOD_CONNECTIONS = 8;

export interface WrongKeysResult {
  target: string;
  alone: LatencySummary | null;
  flooded: LatencySummary | null;
  /** flooded ÷ alone. */
  p50Ratio: number | null;
  p99Ratio: number | null;
  flood: { requests: number; perSec: number; statuses: Record<string, number> };
  /** Pings that were not accepted (each named by its code). */
  refusedPings: Record<string, number>;
}

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

/**
 * The replies of one stream, `committed` notices left out, each handed to the
 * one waiting for it. One listener for the stream's life: a reply that comes
 * in the same read as a notice must not be missed between two waits.
 */
class Replies {
  private waiting: ((reply: { type: string; code?: string }) => void) | null = null;

  constructor(ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      const reply = unpackr.unpack(data) as { type: string; code?: string };
      if (reply.type === 'committed') return;
      const wake = this.waiting;
      this.waiting = null;
      wake?.(reply);
    });
  }

  next(): Promise<{ type: string; code?: string }> {
    return new Promise((resolve) => {
      this.waiting = resolve;
    });
  }
}

/** Round trips on one stream for `seconds`; each refused reply is counted by its code. */
async function roundTrips(ws: WebSocket, replies: Replies, seconds: number, refused: Record<string, number>): Promise<LatencySummary | null> {
  const h = newHistogram();
  const until = performance.now() + seconds * 1000;
  for (let i = 0; performance.now() < until; i++) {
    const started = performance.now();
    const reply = replies.next();
    ws.send(packr.pack([Buffer.from(`ping ${i}`)]));
    const { type, code } = await reply;
    if (type === 'accepted') h.recordValue(Math.max(1, Math.round((performance.now() - started) * 1000)));
    else refused[code ?? type] = (refused[code ?? type] ?? 0) + 1;
  }
  const summary = summarize(h);
  h.destroy();
  return summary;
}

export async function runWrongKeys(target: LoadTarget, timing: { durationS: number; warmupS: number }, log: (line: string) => void): Promise<WrongKeysResult> {
  const key = target.keys?.[WRONG_KEYS_CHAIN];
  if (key === undefined) throw new Error(`${target.name} runs without credits: the wrong-keys scenario needs chainlanes (an admin key)`);
  const ws = new WebSocket(`${target.url}/v1/chains/${WRONG_KEYS_CHAIN}/stream`, { headers: { authorization: `Bearer ${key}` } });
  await once(ws, 'open');
  const replies = new Replies(ws);
  const refusedPings: Record<string, number> = {};
  try {
    await roundTrips(ws, replies, timing.warmupS, refusedPings);
    log(`wrong-keys: round trips alone for ${timing.durationS} s`);
    const alone = await roundTrips(ws, replies, timing.durationS, refusedPings);
    const flood = fork(fileURLToPath(new URL('./wrong-keys-flood.js', import.meta.url)), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    try {
      const init: FloodInit = {
        type: 'init',
        base: target.url.replace(/^ws/, 'http'),
        path: `/v1/chains/${WRONG_KEYS_CHAIN}/credits/acct_aaaaaaaaaaaaaaaa`,
        connections: FLOOD_CONNECTIONS,
      };
      const started = once(flood, 'message') as Promise<[FloodStarted]>;
      flood.send(init);
      await started;
      log(`wrong-keys: round trips beside ${FLOOD_CONNECTIONS} connections of wrong keys for ${timing.durationS} s`);
      const flooded = await roundTrips(ws, replies, timing.durationS, refusedPings);
      const done = once(flood, 'message') as Promise<[FloodReport]>;
      flood.send({ type: 'stop' });
      const [report] = await done;
      const ratio = (a: number | undefined, b: number | undefined): number | null => (a === undefined || b === undefined || b === 0 ? null : a / b);
      return {
        target: target.name,
        alone,
        flooded,
        p50Ratio: ratio(flooded?.p50, alone?.p50),
        p99Ratio: ratio(flooded?.p99, alone?.p99),
        flood: { requests: report.requests, perSec: report.requests / report.seconds, statuses: report.statuses },
        refusedPings,
      };
    } finally {
      flood.kill('SIGKILL');
    }
  } finally {
    ws.terminate();
  }
}

export function formatWrongKeys(results: readonly WrongKeysResult[]): string {
  return results
    .map((r) => {
      const row = (what: string, s: LatencySummary | null): string[] => [what, fmtInt(s?.samples ?? 0), fmtUs(s?.p50), fmtUs(s?.p99), fmtUs(s?.max)];
      const statuses = Object.entries(r.flood.statuses)
        .map(([status, n]) => `${status} ×${fmtInt(n)}`)
        .join(', ');
      const refused = Object.entries(r.refusedPings);
      return [
        `${r.target}: a paying client's round trips (one entry, send → accepted), alone and beside ${FLOOD_CONNECTIONS} keep-alive connections of wrong keys`,
        table([['paying client', 'round trips', 'p50', 'p99', 'max'], row('alone', r.alone), row('beside the flood', r.flooded)]),
        `  flooded ÷ alone: p50 ${fmtRatio(r.p50Ratio)}, p99 ${fmtRatio(r.p99Ratio)}; the flood: ${fmtInt(r.flood.requests)} requests (${fmtInt(r.flood.perSec)}/s), answered ${statuses}`,
        refused.length === 0 ? '  every ping was accepted' : `  PINGS REFUSED: ${refused.map(([k, n]) => `${k} ×${n}`).join(', ')}`,
      ].join('\n');
    })
    .join('\n\n');
}
