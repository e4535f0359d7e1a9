import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { jsAddon, nativeAddon, nativeLoadError } from '../../src/native/index.js';
import { workerFile } from '../../src/paths.js';
import type { PinReport, PinningThreadData } from './fixtures/pinning-thread.js';

const native = nativeAddon();
const linux = process.platform === 'linux';
const SKIP =
  native === null ? ` [SKIPPED: native addon not built: ${nativeLoadError ?? 'not loadable'}]` : linux ? '' : ' [SKIPPED: needs /proc/thread-self (Linux)]';

function allowedList(): string {
  const match = /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync('/proc/thread-self/status', 'utf8'));
  if (match?.[1] === undefined) throw new Error('no Cpus_allowed_list in /proc/thread-self/status');
  return match[1];
}

function pinInWorker(cpus: number[]): Promise<PinReport> {
  return new Promise((resolve, reject) => {
    const data: PinningThreadData = { cpus };
    const worker = new Worker(workerFile(import.meta.url, 'fixtures/pinning-thread'), { workerData: data });
    worker.once('message', (report: PinReport) => {
      resolve(report);
      void worker.terminate();
    });
    worker.once('error', reject);
  });
}

describe('pinThread', () => {
  it.skipIf(native === null || !linux)(`pins a worker thread to [0] and only that thread${SKIP}`, async () => {
    const mainBefore = allowedList();
    const report = await pinInWorker([0]);
    expect(report.pinned).toBe(true);
    expect(report.after).toBe('0');
    expect(report.before).toBe(mainBefore);
    expect(allowedList()).toBe(mainBefore);
  });

  it.skipIf(native === null || !linux)(`returns false for CPUs that do not exist, leaving the thread as it was${SKIP}`, async () => {
    for (const cpus of [[4000], [65535], [1e9]]) {
      const report = await pinInWorker(cpus);
      expect(report.pinned, `cpus ${JSON.stringify(cpus)}`).toBe(false);
      expect(report.after).toBe(report.before);
    }
  });

  it.skipIf(native === null)(`throws TypeError for bad arguments${SKIP}`, () => {
    const loose = (native?.pinThread ?? jsAddon.pinThread) as (cpus: unknown) => boolean;
    for (const bad of [undefined, 0, [], [-1], [0.5], ['0'], [Number.NaN], new Array(2)]) {
      expect(() => loose(bad), JSON.stringify(bad)).toThrow(TypeError);
    }
  });

  it('the fallback never pins but checks its arguments the same way', () => {
    expect(jsAddon.pinThread([0])).toBe(false);
    const loose = jsAddon.pinThread as (cpus: unknown) => boolean;
    for (const bad of [undefined, 0, [], [-1], [0.5], ['0'], [Number.NaN], new Array(2)]) {
      expect(() => loose(bad), JSON.stringify(bad)).toThrow(TypeError);
    }
  });
});
