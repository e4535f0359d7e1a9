// `chainlanes monitor URL…`: a witness of gateways' directory logs in the
// sense of Certificate Transparency monitors. Every interval it checks each
// gateway's signed head (check.ts), keeps what it accepted on its own disk,
// reports events with their evidence, and optionally co-signs the heads it
// accepted. The gateways are checked one after the other: a witness of a few
// gateways needs no concurrency, and a slow one only delays the next look.
import { sign, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { headMessage, type SignedHead } from '../client/index.js';
import { registerProcessMetrics } from '../metrics/index.js';
import { encodeCosignatureMessage } from '../protocol/index.js';
import { checkGateway, type CheckOutcome } from './check.js';
import type { MonitorEvent } from './evidence.js';
import { getJson } from './fetch.js';
import { MonitorStore, type GatewayState } from './state.js';

export interface MonitorOptions {
  gateways: readonly string[];
  stateDir: string;
  intervalMs: number;
  maxAgeMs: number;
  timeoutMs: number;
  /** Co-sign each accepted head with this key and post it to the gateway. */
  cosignKey: KeyObject | null;
  /** The witness's raw public key, hex (with cosignKey). */
  witness: string | null;
  /** Each line the monitor prints (a JSON object with --json, else text). */
  print(line: string): void;
  json: boolean;
  now?(): number;
}

/** What one round of looks found, for --once's exit status. */
export interface RoundResult {
  events: number;
  unreachable: number;
}

export class HeadMonitor {
  readonly registry = new Registry();
  private readonly store: MonitorStore;
  private readonly states = new Map<string, GatewayState | null>();
  /** The last event reported per gateway, so a fork seen at every look is reported (and its evidence written) once. */
  private readonly lastReported = new Map<string, string>();
  private readonly checks: Counter;
  private readonly events: Counter;
  private readonly size: Gauge;
  private readonly age: Gauge;
  private readonly lastCheck: Gauge;
  private readonly duration: Histogram;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private server: Server | null = null;

  constructor(private readonly options: MonitorOptions) {
    this.store = new MonitorStore(options.stateDir);
    for (const url of options.gateways) this.states.set(url, this.store.load(url));
    registerProcessMetrics(this.registry);
    const registers = [this.registry];
    this.checks = new Counter({
      name: 'chainlanes_monitor_heads_checked_total',
      help: 'Signed heads fetched and checked, by gateway.',
      labelNames: ['gateway'],
      registers,
    });
    this.events = new Counter({
      name: 'chainlanes_monitor_events_total',
      help: 'Events by gateway and kind: fork, rollback, bad-signature, stale, unproven, unreachable.',
      labelNames: ['gateway', 'event'],
      registers,
    });
    this.size = new Gauge({
      name: 'chainlanes_monitor_head_size',
      help: 'Size of the last head accepted from the gateway.',
      labelNames: ['gateway'],
      registers,
    });
    this.age = new Gauge({
      name: 'chainlanes_monitor_head_age_seconds',
      help: 'How long before the last look the gateway signed the head it served.',
      labelNames: ['gateway'],
      registers,
    });
    this.lastCheck = new Gauge({
      name: 'chainlanes_monitor_last_check_timestamp_seconds',
      help: 'When the gateway was last looked at.',
      labelNames: ['gateway'],
      registers,
    });
    this.duration = new Histogram({
      name: 'chainlanes_monitor_check_duration_seconds',
      help: 'One look at one gateway: head, proof and checks.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    for (const [url, state] of this.states) if (state?.accepted != null) this.size.set({ gateway: url }, state.accepted.size);
  }

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  /** One look at every gateway. */
  async round(): Promise<RoundResult> {
    const result = { events: 0, unreachable: 0 };
    for (const url of this.options.gateways) {
      const started = performance.now();
      const outcome = await checkGateway(url, this.states.get(url) ?? null, {
        timeoutMs: this.options.timeoutMs,
        maxAgeMs: this.options.maxAgeMs,
        now: () => this.now(),
      });
      this.duration.observe((performance.now() - started) / 1000);
      this.lastCheck.set({ gateway: url }, this.now() / 1000);
      await this.settle(url, outcome, result);
    }
    return result;
  }

  private async settle(url: string, outcome: CheckOutcome, result: RoundResult): Promise<void> {
    if (outcome.unreachable !== null) {
      result.unreachable++;
      this.count(url, 'unreachable');
      this.say({ gateway: url, event: 'unreachable', reason: outcome.unreachable }, `${url}: UNREACHABLE: ${outcome.unreachable}`);
      return;
    }
    this.checks.inc({ gateway: url });
    if (outcome.state !== this.states.get(url)) {
      this.store.save(outcome.state);
      this.states.set(url, outcome.state);
    }
    const accepted = outcome.accepted;
    if (accepted !== null) {
      this.size.set({ gateway: url }, accepted.size);
      this.age.set({ gateway: url }, (this.now() - accepted.time) / 1000);
    }
    if (outcome.event !== null) {
      result.events++;
      this.report(url, outcome);
    } else {
      this.lastReported.delete(url);
      if (outcome.checked !== null) this.sayChecked(url, outcome.previous, outcome.checked, outcome.state.fingerprint);
    }
    if (accepted !== null && this.options.cosignKey !== null) await this.cosign(url, outcome.state, accepted);
  }

  private report(url: string, outcome: CheckOutcome): void {
    const { event, evidence } = outcome.event!;
    this.count(url, event);
    const seen = `${event} ${JSON.stringify(evidence.received)}`;
    if (this.lastReported.get(url) === seen) return;
    this.lastReported.set(url, seen);
    const file = this.store.keep({ ...evidence, detectedAt: new Date(this.now()).toISOString() });
    this.say(
      { gateway: url, event, reason: evidence.reason, evidence: file, accepted: evidence.accepted, received: evidence.received },
      `${url}: ${event.toUpperCase()}: ${evidence.reason}; both signed heads are in ${file}`,
    );
  }

  private sayChecked(url: string, previous: SignedHead | null, head: SignedHead, fingerprint: string): void {
    const ageS = ((this.now() - head.time) / 1000).toFixed(1);
    const change = previous === null ? `first head, key ${fingerprint} pinned` : previous.size === head.size ? 'unchanged' : `was ${previous.size}, consistent`;
    this.say(
      { gateway: url, event: 'ok', size: head.size, root: head.root, time: head.time, previousSize: previous?.size ?? null },
      `${url}: ok: head ${head.size} (${change}), root ${head.root.slice(0, 16)}…, signed ${ageS} s ago`,
    );
  }

  /** Signs the accepted head as a witness and posts it; a refusal is reported, never fatal. */
  private async cosign(url: string, state: GatewayState, head: SignedHead): Promise<void> {
    const time = this.now();
    const signature = sign(null, encodeCosignatureMessage(time, headMessage(head, state.key)), this.options.cosignKey!).toString('hex');
    const body = JSON.stringify({ witness: this.options.witness, time, signature, head });
    try {
      const answer = await getJson(`${url.replace(/\/+$/, '')}/v1/directory/cosignatures`, this.options.timeoutMs, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      if (answer.status !== 200)
        this.say(
          { gateway: url, event: 'cosign-refused', status: answer.status, answer: answer.body },
          `${url}: co-signature of head ${head.size} refused: HTTP ${answer.status} ${JSON.stringify(answer.body)}`,
        );
    } catch (error) {
      this.say(
        { gateway: url, event: 'cosign-failed', reason: String(error) },
        `${url}: co-signature of head ${head.size} not delivered: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }

  private count(url: string, event: MonitorEvent): void {
    this.events.inc({ gateway: url, event });
  }

  private say(json: Record<string, unknown>, text: string): void {
    this.options.print(this.options.json ? JSON.stringify({ at: new Date(this.now()).toISOString(), ...json }) : `monitor: ${text}`);
  }

  /** Looks every interval until stop(), the metrics served on `metrics` if given. */
  async run(metrics: { host: string; port: number } | null): Promise<void> {
    if (metrics !== null) await this.serveMetrics(metrics.host, metrics.port);
    const loop = async (): Promise<void> => {
      await this.round();
      if (!this.stopped) this.timer = setTimeout(() => void loop(), this.options.intervalMs);
    };
    await loop();
  }

  /** The port the metrics listen on (after run with metrics). */
  get metricsPort(): number | null {
    const address = this.server?.address();
    return typeof address === 'object' && address !== null ? address.port : null;
  }

  private serveMetrics(host: string, port: number): Promise<void> {
    this.server = createServer((req, res) => {
      if (req.method !== 'GET' || req.url !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('the monitor serves GET /metrics only\n');
        return;
      }
      this.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(text),
        (error: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(String(error)),
      );
    });
    return new Promise((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, host, () => resolve());
    });
  }

  stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const server = this.server;
    return server === null ? Promise.resolve() : new Promise((resolve) => server.close(() => resolve()));
  }
}
