// What the monitor keeps on its own disk (--state DIR): per gateway, the key it
// pinned at first contact and the last head it accepted; and the evidence of
// every event. Written whole to a temporary file, synced and renamed, so a
// crash leaves the old file or the new one, never half of one.
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SignedHead } from '../protocol/index.js';
import type { Evidence } from './evidence.js';

export interface GatewayState {
  url: string;
  /** The gateway's Ed25519 public key, hex, pinned at first contact. */
  key: string;
  fingerprint: string;
  /** The last head that verified and was consistent with the one before. */
  accepted: SignedHead | null;
  /** When it was accepted (ms since the epoch). */
  acceptedAt: number | null;
}

export class MonitorStore {
  constructor(readonly dir: string) {
    mkdirSync(join(dir, 'gateways'), { recursive: true, mode: 0o700 });
    mkdirSync(join(dir, 'evidence'), { recursive: true, mode: 0o700 });
  }

  load(url: string): GatewayState | null {
    let text: string;
    try {
      text = readFileSync(this.fileOf(url), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
    const state = JSON.parse(text) as GatewayState;
    if (state.url !== url) throw new Error(`${this.fileOf(url)} holds the state of ${state.url}, not ${url}`);
    return state;
  }

  save(state: GatewayState): void {
    writeDurably(this.fileOf(state.url), JSON.stringify(state, null, 2) + '\n');
  }

  /** Writes an event's evidence; returns its file. */
  keep(evidence: Evidence): string {
    const stamp = new Date(evidence.detectedAt).toISOString().replace(/[:.]/g, '-');
    const file = join(this.dir, 'evidence', `${stamp}-${evidence.event}-${urlId(evidence.gateway)}.json`);
    writeDurably(file, JSON.stringify(evidence, null, 2) + '\n');
    return file;
  }

  private fileOf(url: string): string {
    return join(this.dir, 'gateways', `${urlId(url)}.json`);
  }
}

function urlId(url: string): string {
  return createHash('sha256').update(url).digest('hex').slice(0, 16);
}

function writeDurably(file: string, text: string): void {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, text, { mode: 0o600 });
  const fd = openSync(temporary, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, file);
  const dir = openSync(join(file, '..'), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}
