// The front door's handle on the anchor thread: starts it, keeps its latest
// status for /healthz and the metrics, and asks it for proof parts and window
// listings (answered as JSON text, so the front door builds nothing).
import { Worker } from 'node:worker_threads';
import { Gauge, type Registry } from 'prom-client';
import { workerFile } from '../paths.js';
import type { Logger } from '../log/index.js';
import type { AnchorFaults, AnchorQuery, AnchorSettings, AnchorStatus, AnchorThreadData, FromAnchorThread, ToAnchorThread } from './types.js';

const NO_ANCHOR_FAULTS: AnchorFaults = { killAfterBumpStored: 0 };

/** A question the thread has not answered by then is answered `internal` (the thread is stuck or gone). */
const QUERY_TIMEOUT_MS = 10_000;
/** Questions waiting for the thread at once; past it they are refused rather than queued. */
const MAX_QUERIES_IN_FLIGHT = 1024;
const STOP_TIMEOUT_MS = 10_000;
/** While anchoring keeps failing, the log says so at most this often (and at the first failure of a run). */
const FAILURE_LOG_EVERY_MS = 60_000;

/** The anchor thread is not running: reads go on without anchor parts. */
export class AnchorsStopped extends Error {}

interface Waiting {
  resolve(json: string | null): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

export class AnchorService {
  private status: AnchorStatus | null = null;
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 0;
  private alive = true;
  /** When the last failure was logged; 0: none in the current run of failures. */
  private failureLoggedAt = 0;

  private constructor(
    private readonly worker: Worker,
    private readonly settings: AnchorSettings,
    private readonly log: Logger,
  ) {}

  /** Starts the anchor thread and resolves once its store is open. */
  static async start(
    dataDir: string,
    settings: AnchorSettings,
    privateKey: string,
    log: Logger,
    faults: AnchorFaults = NO_ANCHOR_FAULTS,
  ): Promise<AnchorService> {
    const workerData: AnchorThreadData = { dataDir, settings, privateKey, faults };
    const worker = new Worker(workerFile(import.meta.url, 'anchor-thread'), { workerData, name: 'chainlanes-anchors' });
    const service = new AnchorService(worker, settings, log);
    await new Promise<void>((resolve, reject) => {
      worker.once('error', reject);
      worker.on('message', (message: FromAnchorThread) => {
        if (message.type === 'ready') resolve();
        service.onMessage(message);
      });
    });
    worker.on('error', (error) => {
      service.alive = false;
      log.error(
        { event: 'anchor-thread-failed', error: error.message },
        `the anchor thread died; directories are no longer anchored until a restart: ${error.message}`,
      );
    });
    worker.on('exit', () => {
      service.alive = false;
      for (const [id, w] of service.waiting) service.settle(id, w, null, new AnchorsStopped('the anchor thread stopped'));
    });
    const { everyDirectories, everySeconds, confirmations, watchBlocks, bumpAfterSeconds, bumpPercent, maxFeePerGasGwei } = settings;
    log.info(
      {
        event: 'anchors',
        rpcUrl: redact(settings.rpcUrl),
        everyDirectories,
        everySeconds,
        confirmations,
        watchBlocks,
        bumpAfterSeconds,
        bumpPercent,
        maxFeePerGasGwei,
      },
      `anchoring directory hashes to Ethereum at ${redact(settings.rpcUrl)}: a window every ${everyDirectories} directory blocks or ${everySeconds} s, ` +
        `confirmed after ${confirmations} blocks and watched ${watchBlocks} more; fees raised ${bumpPercent} % after ${bumpAfterSeconds} s out of a block, up to ${maxFeePerGasGwei} gwei per gas`,
    );
    return service;
  }

  /** JSON text of the answer (null: nothing there). Rejects when the thread cannot answer. */
  query(query: AnchorQuery): Promise<string | null> {
    if (!this.alive) return Promise.reject(new AnchorsStopped('the anchor thread is not running'));
    if (this.waiting.size >= MAX_QUERIES_IN_FLIGHT) return Promise.reject(new Error('too many anchor questions in flight'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => this.settle(id, this.waiting.get(id), null, new Error(`the anchor thread did not answer within ${QUERY_TIMEOUT_MS} ms`)),
        QUERY_TIMEOUT_MS,
      );
      this.waiting.set(id, { resolve, reject, timer });
      this.worker.postMessage({ type: 'query', id, query } satisfies ToAnchorThread);
    });
  }

  /** The `anchors` field of /healthz. */
  health(): Record<string, unknown> {
    const s = this.status;
    const behind = s !== null && s.backlog > this.settings.maxWindowDirectories;
    return {
      status: !this.alive
        ? 'stopped'
        : s === null
          ? 'starting'
          : s.failuresInRow > 0
            ? 'retrying'
            : s.window?.atFeeCap === true
              ? 'at-fee-cap'
              : behind
                ? 'behind'
                : 'ok',
      network: s?.network ?? null,
      networkId: s?.networkId ?? null,
      account: s?.account ?? null,
      gateway: s?.gateway ?? null,
      sealedHeight: s?.sealedHeight ?? null,
      anchoredHeight: s?.anchoredHeight ?? null,
      backlog: s?.backlog ?? null,
      backlogLimit: this.settings.maxWindowDirectories,
      window: s?.window ?? null,
      inFlight: s?.inFlight ?? 0,
      watching: s?.watching ?? 0,
      maxFeePerGasGwei: this.settings.maxFeePerGasGwei,
      windowsConfirmed: s?.windowsConfirmed ?? 0,
      reanchors: s?.reanchors ?? 0,
      reorgsAfterConfirmation: s?.reorgsAfterConfirmation ?? 0,
      bumps: s?.bumps ?? 0,
      lastWindow: s?.lastWindow ?? null,
      costs: s?.costs ?? null,
      failures: s?.failures ?? 0,
      failuresInRow: s?.failuresInRow ?? 0,
      lastError: s?.lastError ?? null,
      retryInMs: s?.retryAt == null ? null : Math.max(0, s.retryAt - Date.now()),
      lastStepAt: s?.steppedAt ?? null,
    };
  }

  /** Gauges read from the latest status at each scrape. */
  registerMetrics(registry: Registry): void {
    const gauge = (name: string, help: string, read: (s: AnchorStatus) => number): void => {
      const metric: Gauge = new Gauge({
        name,
        help,
        registers: [registry],
        collect: () => {
          if (this.status !== null) metric.set(read(this.status));
        },
      });
    };
    gauge('chainlanes_anchor_backlog_directories', 'Directory blocks sealed and not yet in a confirmed anchor window.', (s) => s.backlog);
    gauge('chainlanes_anchor_anchored_height', 'Last directory height of the newest confirmed anchor window.', (s) => s.anchoredHeight);
    gauge('chainlanes_anchor_window_confirmations', 'Confirmations of the window in flight (0 when none).', (s) => s.window?.confirmations ?? 0);
    gauge('chainlanes_anchor_windows_confirmed', 'Anchor windows confirmed since the gateway started.', (s) => s.windowsConfirmed);
    gauge('chainlanes_anchor_reanchors', 'Anchor transactions dropped by a reorganisation and sent again, since start.', (s) => s.reanchors);
    gauge(
      'chainlanes_anchor_reorgs_after_confirmation',
      "Reorganisations that took a confirmed window's block away (it was anchored again), since start.",
      (s) => s.reorgsAfterConfirmation,
    );
    gauge(
      'chainlanes_anchor_windows_watched',
      'Confirmed windows whose block is still checked to be canonical (anchors.ethereum.watchBlocks).',
      (s) => s.watching,
    );
    gauge('chainlanes_anchor_fee_bumps', 'Anchor transactions signed again with higher fees because they waited too long, since start.', (s) => s.bumps);
    gauge('chainlanes_anchor_at_fee_cap', '1 while the window in flight waits at anchors.ethereum.maxFeePerGasGwei rather than pay more.', (s) =>
      Number(s.window?.atFeeCap === true),
    );
    gauge(
      'chainlanes_anchor_window_max_fee_per_gas_gwei',
      'Fee cap of the newest transaction of the window in flight (0 when none).',
      (s) => s.window?.maxFeePerGasGwei ?? 0,
    );
    gauge('chainlanes_anchor_gas_used', 'Gas used by the transactions of all confirmed windows.', (s) => s.costs.total.gasUsed);
    gauge('chainlanes_anchor_fees_paid_wei', 'Fees paid for all confirmed windows (wei).', (s) => Number(s.costs.total.feeWei));
    gauge('chainlanes_anchor_entries_anchored', 'Entries in all confirmed windows.', (s) => s.costs.total.entries);
    gauge('chainlanes_anchor_fees_paid_today_wei', 'Fees paid for the windows confirmed today, UTC (wei).', (s) => Number(s.costs.today.feeWei));
    gauge('chainlanes_anchor_gas_used_today', 'Gas used by the windows confirmed today, UTC.', (s) => s.costs.today.gasUsed);
    gauge('chainlanes_anchor_fees_wei_per_million_entries', 'Fees paid per million entries anchored, over all confirmed windows (wei).', (s) =>
      Number(s.costs.total.feeWeiPerMillionEntries ?? 0),
    );
    gauge(
      'chainlanes_anchor_gas_per_million_entries',
      'Gas used per million entries anchored, over all confirmed windows.',
      (s) => s.costs.total.gasPerMillionEntries ?? 0,
    );
    gauge('chainlanes_anchor_last_window_fee_wei', 'Fee paid for the newest confirmed window (wei).', (s) => Number(s.lastWindow?.feeWei ?? 0));
    gauge('chainlanes_anchor_failures', 'Failed anchoring steps (RPC errors, rejections) since start.', (s) => s.failures);
    gauge('chainlanes_anchor_failures_in_row', 'Failed anchoring steps since the last one that worked.', (s) => s.failuresInRow);
  }

  async stop(): Promise<void> {
    if (!this.alive) return;
    const stopped = new Promise<void>((resolve) => {
      const timer = setTimeout(() => void this.worker.terminate().then(() => resolve()), STOP_TIMEOUT_MS);
      this.worker.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    this.worker.postMessage({ type: 'stop' } satisfies ToAnchorThread);
    await stopped;
  }

  private onMessage(message: FromAnchorThread): void {
    if (message.type === 'status') this.onStatus(message.status);
    else if (message.type === 'answer') {
      const w = this.waiting.get(message.id);
      this.settle(message.id, w, message.json, message.error === undefined ? null : new Error(message.error));
    } else if (message.type === 'event') this.log.warn({ event: message.event, ...message.fields }, message.message);
  }

  /** Failures reach the log, rate-limited, with the node's URL and the cause; so does the recovery. */
  private onStatus(status: AnchorStatus): void {
    const before = this.status?.failuresInRow ?? 0;
    this.status = status;
    const now = Date.now();
    const url = redact(this.settings.rpcUrl);
    if (status.failuresInRow > 0 && status.failuresInRow > before && now - this.failureLoggedAt >= FAILURE_LOG_EVERY_MS) {
      this.failureLoggedAt = now;
      const retryIn = status.retryAt === null ? null : Math.max(0, status.retryAt - now);
      this.log.warn(
        { event: 'anchor-failed', rpcUrl: url, failuresInRow: status.failuresInRow, retryInMs: retryIn, error: status.lastError },
        `anchoring to ${url} failed (${status.failuresInRow} in a row), retrying in ${retryIn ?? '?'} ms: ${status.lastError ?? 'unknown error'}`,
      );
    } else if (status.failuresInRow === 0 && before > 0) {
      this.failureLoggedAt = 0;
      this.log.info({ event: 'anchor-recovered', rpcUrl: url, failures: before }, `anchoring to ${url} works again after ${before} failures in a row`);
    }
  }

  private settle(id: number, w: Waiting | undefined, json: string | null, error: Error | null): void {
    if (w === undefined) return;
    clearTimeout(w.timer);
    this.waiting.delete(id);
    if (error === null) w.resolve(json);
    else w.reject(error);
  }
}

/** An RPC URL may carry an API key in its path or query: only the origin goes to the log. */
function redact(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid URL)';
  }
}
