// Limits: how fast the front door answers at its connection limits. The e2e
// tests (test/e2e/connections.test.ts) show only that a stream or request past
// limits.maxConnections is refused `busy` with an answer and that /healthz is
// answered there; how long each takes is measured here, against /healthz on
// the same gateway before the limit was reached. Every sample is a fresh
// connection (a client that was refused is closed), one at a time.
import { request } from 'node:http';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { fmtInt, fmtRatio, fmtUs, table } from './report.js';
import { newHistogram, summarize, type LatencySummary } from './stats.js';
import type { LoadTarget } from './load.js';

/** The gateway's limits here: small, so the bench holds them all at once. */
export const LIMITS_HELD = 64;
export const LIMITS_CONFIG = { limits: { maxConnections: LIMITS_HELD, maxConnectionsPerAddress: LIMITS_HELD } } as const;
const ANSWER_TIMEOUT_MS = 10_000;

export interface LimitsResult {
  target: string;
  held: number;
  samples: number;
  /** GET /healthz before the limit was reached. */
  healthzAlone: LatencySummary | null;
  /** At the limit: a WebSocket upgrade refused 503, a GET /v1/chains refused 503, and GET /healthz answered 200. */
  refusedUpgrade: LatencySummary | null;
  refusedRequest: LatencySummary | null;
  healthzAtLimit: LatencySummary | null;
  /** Answers that were not the one expected (a 101 or 200 past the limit, a timeout…), by what they were. */
  unexpected: Record<string, number>;
}

interface Probe {
  /** What the answer was, e.g. "503", "101", "timeout". */
  answer: string;
  us: number;
}

function httpProbe(base: URL, path: string): Promise<Probe> {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = request({ host: base.hostname, port: base.port, path, agent: false, timeout: ANSWER_TIMEOUT_MS }, (res) => {
      res.resume();
      res.on('end', () => resolve({ answer: String(res.statusCode), us: (performance.now() - started) * 1000 }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (error) => resolve({ answer: error.message === 'timeout' ? 'timeout' : 'error', us: (performance.now() - started) * 1000 }));
    req.end();
  });
}

/** An upgrade's answer: 101 (it opened; the socket is handed back), or the HTTP status that refused it. */
function upgradeProbe(url: string, chain: string): Promise<Probe & { ws: WebSocket | null }> {
  const started = performance.now();
  const ws = new WebSocket(`${url}/v1/chains/${chain}/stream`, { handshakeTimeout: ANSWER_TIMEOUT_MS });
  const us = (): number => (performance.now() - started) * 1000;
  return new Promise((resolve) => {
    ws.once('open', () => resolve({ answer: '101', us: us(), ws }));
    ws.once('unexpected-response', (_req, res) => {
      const at = us();
      res.resume();
      ws.terminate();
      resolve({ answer: String(res.statusCode), us: at, ws: null });
    });
    ws.once('error', () => resolve({ answer: 'error', us: us(), ws: null }));
  });
}

export async function runLimits(target: LoadTarget, samples: number, log: (line: string) => void): Promise<LimitsResult> {
  const base = new URL(target.url.replace(/^ws/, 'http'));
  const histograms = { healthzAlone: newHistogram(), refusedUpgrade: newHistogram(), refusedRequest: newHistogram(), healthzAtLimit: newHistogram() };
  const unexpected: Record<string, number> = {};
  const take = (name: keyof typeof histograms, probe: Probe, expected: string): void => {
    if (probe.answer === expected) histograms[name].recordValue(Math.max(1, Math.round(probe.us)));
    else unexpected[`${name}: ${probe.answer}`] = (unexpected[`${name}: ${probe.answer}`] ?? 0) + 1;
  };
  for (let i = 0; i < samples; i++) take('healthzAlone', await httpProbe(base, '/healthz'), '200');
  log(`limits: holding ${LIMITS_HELD} streams`);
  const held: WebSocket[] = [];
  try {
    for (let i = 0; i < LIMITS_HELD; i++) {
      const probe = await upgradeProbe(target.url, `held-${i}`);
      if (probe.ws === null) throw new Error(`stream ${i} of ${LIMITS_HELD} did not open below the limit: ${probe.answer}`);
      held.push(probe.ws);
    }
    log(`limits: ${samples} samples of each answer at the limit`);
    for (let i = 0; i < samples; i++) {
      const upgrade = await upgradeProbe(target.url, 'one-too-many');
      upgrade.ws?.terminate();
      take('refusedUpgrade', upgrade, '503');
      take('refusedRequest', await httpProbe(base, '/v1/chains'), '503');
      take('healthzAtLimit', await httpProbe(base, '/healthz'), '200');
    }
  } finally {
    for (const ws of held) ws.terminate();
  }
  const summaries = Object.fromEntries(Object.entries(histograms).map(([name, h]) => [name, summarize(h)])) as Record<
    keyof typeof histograms,
    LatencySummary | null
  >;
  for (const h of Object.values(histograms)) h.destroy();
  return { target: target.name, held: LIMITS_HELD, samples, ...summaries, unexpected };
}

export function formatLimits(results: readonly LimitsResult[]): string {
  return results
    .map((r) => {
      const row = (what: string, s: LatencySummary | null): string[] => [
        what,
        fmtInt(s?.samples ?? 0),
        fmtUs(s?.p50),
        fmtUs(s?.p99),
        fmtUs(s?.max),
        fmtRatio(s === null || r.healthzAlone === null ? null : s.p99 / r.healthzAlone.p99),
      ];
      const rows = [
        ['answer (a fresh connection each)', 'samples', 'p50', 'p99', 'max', 'p99 ÷ /healthz alone'],
        row('GET /healthz, below the limit', r.healthzAlone),
        row('stream upgrade past the limit: 503 busy', r.refusedUpgrade),
        row('GET /v1/chains past the limit: 503 busy', r.refusedRequest),
        row('GET /healthz at the limit: 200', r.healthzAtLimit),
      ];
      const odd = Object.entries(r.unexpected);
      return [
        `${r.target}: ${r.held} streams held (limits.maxConnections ${r.held}), then answers timed one at a time`,
        table(rows),
        odd.length === 0 ? '  every answer was the one expected' : `  UNEXPECTED answers: ${odd.map(([k, n]) => `${k} ×${n}`).join(', ')}`,
      ].join('\n');
    })
    .join('\n\n');
}
