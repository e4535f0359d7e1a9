// What `committed` notices must look like for a connection that wrote into one
// chain from seq 0: every block once, heights and seqs contiguous, nothing
// skipped and nothing twice, covering exactly the accepted entries.
import { expect } from 'vitest';
import type { Reply } from './gateway.js';

export function expectContiguousCommits(notices: readonly Reply[], acceptedEntries: number): void {
  notices.forEach((notice, i) => expect(notice.height).toBe(i));
  let nextSeq = 0;
  for (const notice of notices) {
    expect(notice.seq).toBe(nextSeq);
    nextSeq += notice.count as number;
  }
  expect(nextSeq).toBe(acceptedEntries);
}
