// Rewriting a stopped gateway's history, as a dishonest operator (or a damaged
// disk) would: one sealed directory block's bytes change, every later
// directory is linked again so the store stays self-consistent, and, with
// `dropLog`, the directory log and its signed heads are thrown away so that the
// gateway rebuilds them from the rewritten blocks when it starts.
import { decodeDirectoryRecord, encodeAnchorRecord, encodeDirectoryRecord, heightKey } from '../../src/ledger/records.js';
import { decodeDirectoryHeader, encodeDirectoryHeader } from '../../src/ledger/headers.js';
import { openTables } from '../../src/ledger/tables.js';
import { sha256 } from './hash.js';

export async function rewriteDirectory(dataDir: string, height: number, options: { dropLog: boolean }): Promise<void> {
  const tables = openTables(dataDir);
  try {
    let prevHash: Buffer | null = null;
    await tables.root.transaction(() => {
      for (let h = height; ; h++) {
        const bytes = tables.directories.get(heightKey(h));
        if (bytes === undefined) break;
        const record = decodeDirectoryRecord(bytes);
        const header = decodeDirectoryHeader(record.headerBytes);
        // The rewrite itself: the block claims to be sealed a millisecond later.
        if (h === height) header.sealedAt += 1;
        if (prevHash !== null) header.prevHash = prevHash;
        const headerBytes = encodeDirectoryHeader(header);
        tables.directories.putSync(heightKey(h), encodeDirectoryRecord(headerBytes, record.entries));
        prevHash = sha256(headerBytes);
        tables.anchors.putSync(heightKey(h), encodeAnchorRecord(prevHash, header.sealedAt));
      }
      if (options.dropLog) {
        for (const key of [...tables.log.getKeys({})]) tables.log.removeSync(key);
        for (const key of [...tables.heads.getKeys({})]) tables.heads.removeSync(key);
      }
    });
  } finally {
    await tables.root.close();
  }
}
