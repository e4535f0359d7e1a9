// Entry proofs and the anchor listing gain their anchor parts here, between the
// ledger readers and the HTTP routes, so neither the ledger nor the routes know
// about windows. The ledger's answer is JSON text; the anchor part is spliced
// into it as text rather than parsed and re-serialised on the front door's thread.
import type { LedgerReadTask } from '../ledger/index.js';
import { AnchorsStopped } from './service.js';
import type { AnchorQuery } from './types.js';

export interface JsonReads {
  read(task: LedgerReadTask): Promise<string | null>;
}

export interface AnchorQueries {
  query(query: AnchorQuery): Promise<string | null>;
}

/** The directory part is the proof's last member and `height` its first (Ledger.entryProof builds it so). */
const DIRECTORY_HEIGHT = '"directory":{"height":';

export class AnchoredReads implements JsonReads {
  constructor(
    private readonly ledger: JsonReads,
    private readonly anchors: AnchorQueries,
  ) {}

  async read(task: LedgerReadTask): Promise<string | null> {
    const json = await this.ledger.read(task);
    if (json === null) return null;
    if (task.kind === 'entry') return this.withAnchor(json);
    if (task.kind === 'anchors') return this.withWindows(json, task.from, task.limit);
    return json;
  }

  private async withAnchor(json: string): Promise<string> {
    const height = lastDirectoryHeight(json);
    if (height === null) return json;
    let part: string | null;
    try {
      part = await this.anchors.query({ kind: 'proof', height });
    } catch (error) {
      // A dead anchor thread must not take proofs down with it: they are valid without the part.
      if (error instanceof AnchorsStopped) return json;
      throw error;
    }
    return part === null ? json : `${json.slice(0, -1)},"anchor":${part}}`;
  }

  /** `GET /v1/anchors` keeps its `anchors` and gains `windows`: the windows over the heights it lists. */
  private async withWindows(json: string, from: number, limit: number): Promise<string> {
    const windows = await this.anchors.query({ kind: 'overlapping', from, to: from + Math.max(0, limit - 1), limit }).catch((error: unknown) => {
      if (error instanceof AnchorsStopped) return null;
      throw error;
    });
    return `${json.slice(0, -1)},"windows":${windows ?? '[]'}}`;
  }
}

function lastDirectoryHeight(json: string): number | null {
  const at = json.lastIndexOf(DIRECTORY_HEIGHT);
  if (at < 0) return null;
  const digits = /^\d+/.exec(json.slice(at + DIRECTORY_HEIGHT.length, at + DIRECTORY_HEIGHT.length + 20));
  return digits === null ? null : Number(digits[0]);
}
