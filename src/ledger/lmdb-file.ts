// lmdb's data file (data.mdb) read with plain file reads, before lmdb maps it.
// lmdb trusts its file: a damaged meta page or a damaged page that a write
// walks makes it read outside the mapped file, and the process dies of
// SIGSEGV or SIGBUS, which nothing in-process can catch or report. So the
// parts lmdb trusts blindly are checked here first:
//
//   - the meta pages, page 0 and page 1 (lmdb alternates between them, the one
//     with the higher transaction id is current), and the "sync" copy lmdb-js
//     keeps half way into page 0 (its overlapping sync; lmdb-js picks among
//     all three when it opens the file);
//   - the free-page list of the current meta, a B-tree of (txnid → page list)
//     that only writes read (the first write after start-up walks it), so that
//     neither `verify` nor reading the heads would ever touch it.
//
// The rest of the file is what lmdb reads for the ledger; those reads run in a
// short-lived child process first (store-probe.ts), where a crash is only a
// report.
//
// Layout, from lmdb-js 3.x's liblmdb (mdb.c: MDB_page_header, MDB_meta,
// MDB_db, MDB_node), 64-bit little-endian:
//   page header (24): pgno u64 · txnid u64 · pad u16 · flags u16 · lower u16 · upper u16
//                     (lower/upper are the overflow page count u32 on overflow pages)
//   meta (at 24):     magic u32 · version u32 · address u64 · mapsize u64 ·
//                     db[0] free pages (48) · db[1] main (48) · last_pg u64 · txnid u64 · boot_id u64
//   db (48):          pad u32 (page size, in the free db of a meta) · flags u16 · depth u16 ·
//                     branch, leaf, overflow pages u64 · entries u64 · root u64
//   node (8 + key + data): lo u16 · hi u16 · flags u16 · ksize u16; a branch node's child is
//                     lo | hi<<16 | flags<<32, a leaf node's data size lo | hi<<16
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';

const PAGE_HEADER = 24;
const META_AT = PAGE_HEADER;
const MAGIC = 0xbeefc0de;
const DATA_VERSION = 2;
const DB_BYTES = 48;
const NODE_HEADER = 8;
const P_BRANCH = 0x01;
const P_LEAF = 0x02;
const P_OVERFLOW = 0x04;
const P_META = 0x08;
const P_LEAF2 = 0x20;
const PAGE_KINDS = P_BRANCH | P_LEAF | P_OVERFLOW | P_META | P_LEAF2;
const F_BIGDATA = 0x01;
const P_INVALID = 0xffff_ffff_ffff_ffffn;
const MIN_PAGE = 512;
const MAX_PAGE = 65_536;
/** No B-tree of a real store is deeper; a deeper walk is a loop in damaged pages. */
const MAX_DEPTH = 64;

/** A damaged lmdb file: what is wrong, where. */
export class LmdbFileError extends Error {
  override name = 'LmdbFileError';
}

export interface LmdbMeta {
  /** Where it was read: meta page 0 or 1, or lmdb-js's sync copy in page 0. */
  where: 'meta page 0' | 'meta page 1' | 'sync meta in page 0';
  txnid: number;
  lastPage: number;
  freeRoot: number | null;
  mainRoot: number | null;
}

export interface LmdbFileReport {
  pageSize: number;
  /** Whole pages in data.mdb. */
  filePages: number;
  /** The meta lmdb takes as current (the higher transaction id of pages 0 and 1). */
  current: LmdbMeta;
  /** Pages of the free-page list walked (0 when only the meta pages were checked). */
  freeListPages: number;
}

/**
 * Checks lmdb's meta pages in `dir`/data.mdb and, with `freeList`, the free-page
 * list of the current meta. Throws LmdbFileError naming the first damage found.
 */
export function checkLmdbFile(dir: string, options: { freeList: boolean }): LmdbFileReport {
  const fd = openSync(join(dir, 'data.mdb'), 'r');
  try {
    const file = new PageFile(fd, fstatSync(fd).size);
    const metas = readMetas(file);
    const freeListPages = options.freeList ? walkFreeList(file, metas.current) : 0;
    return { pageSize: file.pageSize, filePages: file.pages, current: metas.current, freeListPages };
  } finally {
    closeSync(fd);
  }
}

class PageFile {
  pageSize = 0;
  pages = 0;

  constructor(
    private readonly fd: number,
    readonly size: number,
  ) {}

  read(at: number, length: number): Buffer {
    const out = Buffer.alloc(length);
    const got = readSync(this.fd, out, 0, length, at);
    if (got !== length) throw new LmdbFileError(`data.mdb ends at byte ${this.size}, inside the ${length} bytes read at ${at}`);
    return out;
  }

  setPageSize(pageSize: number): void {
    this.pageSize = pageSize;
    this.pages = Math.floor(this.size / pageSize);
  }

  page(pgno: number): Buffer {
    return this.read(pgno * this.pageSize, this.pageSize);
  }
}

function u64(bytes: Buffer, at: number): bigint {
  return bytes.readBigUInt64LE(at);
}

/** A page number or count lmdb stores as u64, as a number; beyond 2^53 it is damage for any real file. */
function pageNumber(value: bigint, what: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new LmdbFileError(`${what} is ${value}, beyond any file`);
  return Number(value);
}

function readMetas(file: PageFile): { current: LmdbMeta } {
  if (file.size < 2 * MIN_PAGE) throw new LmdbFileError(`data.mdb has ${file.size} bytes, too few for lmdb's two meta pages`);
  // Both meta pages in one read (whatever the page size), so a writer between two reads cannot make them disagree.
  const metaPages = file.read(0, Math.min(file.size, 2 * MAX_PAGE));
  const first = metaPages.subarray(0, Math.min(metaPages.length, MAX_PAGE));
  checkMetaHeader(first, 0, 'meta page 0');
  const pageSize = first.readUInt32LE(META_AT + 24);
  if (pageSize < MIN_PAGE || pageSize > MAX_PAGE || (pageSize & (pageSize - 1)) !== 0) {
    throw new LmdbFileError(`corrupt lmdb meta page 0: page size ${pageSize} is not a power of two from ${MIN_PAGE} to ${MAX_PAGE}`);
  }
  if (file.size < 2 * pageSize) throw new LmdbFileError(`data.mdb has ${file.size} bytes, less than two pages of ${pageSize}`);
  file.setPageSize(pageSize);
  const second = metaPages.subarray(pageSize, 2 * pageSize);
  checkMetaHeader(second, 1, 'meta page 1');
  const pageSize1 = second.readUInt32LE(META_AT + 24);
  if (pageSize1 !== pageSize) throw new LmdbFileError(`corrupt lmdb meta page 1: page size ${pageSize1}, but meta page 0 says ${pageSize}`);
  const meta0 = decodeMeta(first, META_AT, 'meta page 0');
  const meta1 = decodeMeta(second, META_AT, 'meta page 1');
  // lmdb writes transaction t's meta into page t & 1, so the two hold
  // consecutive ids, even in page 0 and odd in page 1. Exceptions: a new file
  // (both 0), and a compacted copy (mdb_copy -c: 0 in page 0, the copied id
  // made odd in page 1) until its first commit.
  const fresh = meta0.txnid === 0 && meta1.txnid === 0;
  const consecutive = Math.abs(meta0.txnid - meta1.txnid) === 1 || meta0.txnid === 0;
  if (!fresh && (meta0.txnid % 2 !== 0 || meta1.txnid % 2 !== 1 || !consecutive)) {
    throw new LmdbFileError(`corrupt lmdb meta pages: transaction ids ${meta0.txnid} (page 0) and ${meta1.txnid} (page 1) are not consecutive, even then odd`);
  }
  // mdb_pick_meta: the higher id, page 0 on a tie.
  const current = meta0.txnid >= meta1.txnid ? meta0 : meta1;
  checkMetaPages(current, file);
  // lmdb-js's overlapping sync keeps a copy of the last synced meta half way
  // into page 0 (from mapsize on: no magic or version), zero until written;
  // on opening it picks the highest id of all three.
  const sync = decodeMeta(first, pageSize / 2 + META_AT, 'sync meta in page 0');
  if (sync.txnid !== 0) {
    if (sync.txnid > current.txnid)
      throw new LmdbFileError(`corrupt lmdb sync meta in page 0: transaction id ${sync.txnid} is beyond the current ${current.txnid}`);
    const syncPageSize = first.readUInt32LE(pageSize / 2 + META_AT + 24);
    if (syncPageSize !== pageSize) throw new LmdbFileError(`corrupt lmdb sync meta in page 0: page size ${syncPageSize}, but meta page 0 says ${pageSize}`);
    checkMetaPages(sync, file);
  }
  return { current };
}

function checkMetaHeader(page: Buffer, pgno: number, where: string): void {
  const flags = page.readUInt16LE(18);
  if ((flags & PAGE_KINDS) !== P_META) throw new LmdbFileError(`corrupt lmdb ${where}: page flags 0x${flags.toString(16)} do not mark a meta page`);
  const magic = page.readUInt32LE(META_AT);
  if (magic !== MAGIC) throw new LmdbFileError(`corrupt lmdb ${where}: magic 0x${magic.toString(16)}, expected 0x${MAGIC.toString(16)}`);
  const version = page.readUInt32LE(META_AT + 4) & 0xffff;
  if (version !== DATA_VERSION) throw new LmdbFileError(`corrupt lmdb ${where}: data version ${version}, expected ${DATA_VERSION}`);
  const stored = u64(page, 0);
  if (stored !== BigInt(pgno)) throw new LmdbFileError(`corrupt lmdb ${where}: its header says page ${stored}`);
}

function decodeMeta(bytes: Buffer, at: number, where: LmdbMeta['where']): LmdbMeta {
  const root = (db: number, name: string): number | null => {
    const value = u64(bytes, at + 24 + db * DB_BYTES + 40);
    return value === P_INVALID ? null : pageNumber(value, `corrupt lmdb ${where}: the ${name} root`);
  };
  return {
    where,
    txnid: pageNumber(u64(bytes, at + 128), `corrupt lmdb ${where}: the transaction id`),
    lastPage: pageNumber(u64(bytes, at + 120), `corrupt lmdb ${where}: the last page number`),
    freeRoot: root(0, 'free-page list'),
    mainRoot: root(1, 'main database'),
  };
}

/** A meta lmdb may use: its last page is in the file, and its roots are pages before it. */
function checkMetaPages(meta: LmdbMeta, file: PageFile): void {
  const at = `corrupt lmdb ${meta.where}`;
  // A chainlanes store only adds records and rewrites small ones in place, so
  // every page up to the last one was written: the file holds them all.
  if (meta.lastPage < 1 || meta.lastPage >= file.pages) throw new LmdbFileError(`${at}: last page ${meta.lastPage}, but data.mdb has ${file.pages} pages`);
  for (const [name, root] of [
    ['free-page list', meta.freeRoot],
    ['main database', meta.mainRoot],
  ] as const) {
    if (root !== null && (root < 2 || root > meta.lastPage))
      throw new LmdbFileError(`${at}: the ${name} root is page ${root}, outside pages 2…${meta.lastPage}`);
  }
}

interface TreePage {
  pgno: number;
  bytes: Buffer;
  flags: number;
  keys: number;
}

/** Walks the free-page list of `meta`; returns the pages walked. */
function walkFreeList(file: PageFile, meta: LmdbMeta): number {
  if (meta.freeRoot === null) return 0;
  const seen = new Set<number>();
  const where = `the free-page list (transaction ${meta.txnid})`;
  const visit = (pgno: number, depth: number): void => {
    if (depth > MAX_DEPTH) throw new LmdbFileError(`corrupt lmdb page ${pgno} in ${where}: the tree is deeper than ${MAX_DEPTH}`);
    if (seen.has(pgno)) throw new LmdbFileError(`corrupt lmdb page ${pgno} in ${where}: reached twice`);
    seen.add(pgno);
    const page = readTreePage(file, pgno, meta.lastPage, where);
    for (let i = 0; i < page.keys; i++) {
      const node = readNode(page, i, file.pageSize, where);
      if (page.flags === P_BRANCH) {
        const child = node.lo + node.hi * 0x10000 + node.flags * 2 ** 32;
        if (child < 2 || child > meta.lastPage)
          throw new LmdbFileError(`corrupt lmdb page ${pgno} in ${where}: node ${i} points at page ${child}, outside pages 2…${meta.lastPage}`);
        visit(child, depth + 1);
      } else {
        checkFreeRecord(file, page, node, i, meta.lastPage, where);
      }
    }
  };
  visit(meta.freeRoot, 0);
  return seen.size;
}

function readTreePage(file: PageFile, pgno: number, lastPage: number, where: string): TreePage {
  if (pgno > lastPage || pgno >= file.pages) throw new LmdbFileError(`corrupt lmdb page ${pgno} in ${where}: beyond the last page ${lastPage}`);
  const bytes = file.page(pgno);
  const at = `corrupt lmdb page ${pgno} in ${where}`;
  const stored = u64(bytes, 0);
  if (stored !== BigInt(pgno)) throw new LmdbFileError(`${at}: its header says page ${stored}`);
  const flags = bytes.readUInt16LE(18) & PAGE_KINDS;
  if (flags !== P_BRANCH && flags !== P_LEAF) throw new LmdbFileError(`${at}: page flags 0x${flags.toString(16)} are neither branch nor leaf`);
  const lower = bytes.readUInt16LE(20);
  const upper = bytes.readUInt16LE(22);
  // lower and upper count from the end of the header (PAGEBASE = PAGEHDRSZ in this lmdb).
  if (lower % 2 !== 0 || lower > upper || upper > file.pageSize - PAGE_HEADER) {
    throw new LmdbFileError(`${at}: free space bounds ${lower}…${upper} do not fit a ${file.pageSize}-byte page`);
  }
  return { pgno, bytes, flags, keys: lower / 2 };
}

interface TreeNode {
  lo: number;
  hi: number;
  flags: number;
  key: Buffer;
  /** Where the node's data starts in its page. */
  dataAt: number;
}

function readNode(page: TreePage, index: number, pageSize: number, where: string): TreeNode {
  const at = `corrupt lmdb page ${page.pgno} in ${where}`;
  const offset = page.bytes.readUInt16LE(PAGE_HEADER + 2 * index) + PAGE_HEADER;
  if (offset < PAGE_HEADER + page.keys * 2 || offset + NODE_HEADER > pageSize)
    throw new LmdbFileError(`${at}: node ${index} starts at byte ${offset}, outside the page's nodes`);
  const ksize = page.bytes.readUInt16LE(offset + 6);
  const dataAt = offset + NODE_HEADER + ksize;
  if (dataAt > pageSize) throw new LmdbFileError(`${at}: node ${index}'s key of ${ksize} bytes runs past the page`);
  return {
    lo: page.bytes.readUInt16LE(offset),
    hi: page.bytes.readUInt16LE(offset + 2),
    flags: page.bytes.readUInt16LE(offset + 4),
    key: page.bytes.subarray(offset + NODE_HEADER, dataAt),
    dataAt,
  };
}

/** One record of the free-page list: a transaction id → the pages it freed (a count, then pages or -n, start ranges). */
function checkFreeRecord(file: PageFile, page: TreePage, node: TreeNode, index: number, lastPage: number, where: string): void {
  const at = `corrupt lmdb page ${page.pgno} in ${where}`;
  if (node.key.length !== 8) throw new LmdbFileError(`${at}: node ${index} has a ${node.key.length}-byte key, not a transaction id`);
  const size = node.lo + node.hi * 0x10000;
  let list: Buffer;
  if ((node.flags & F_BIGDATA) !== 0) {
    if (node.dataAt + 8 > file.pageSize) throw new LmdbFileError(`${at}: node ${index}'s overflow page number runs past the page`);
    const first = pageNumber(u64(page.bytes, node.dataAt), `${at}: node ${index}'s overflow page`);
    const pages = Math.floor((PAGE_HEADER - 1 + size) / file.pageSize) + 1;
    if (first < 2 || first + pages - 1 > lastPage)
      throw new LmdbFileError(`${at}: node ${index}'s ${pages} overflow pages from page ${first} are outside pages 2…${lastPage}`);
    const overflow = file.read(first * file.pageSize, pages * file.pageSize);
    if (u64(overflow, 0) !== BigInt(first) || (overflow.readUInt16LE(18) & PAGE_KINDS) !== P_OVERFLOW || overflow.readUInt32LE(20) < pages) {
      throw new LmdbFileError(`corrupt lmdb page ${first} in ${where}: not the overflow page of ${pages} pages that page ${page.pgno} node ${index} points at`);
    }
    list = overflow.subarray(PAGE_HEADER, PAGE_HEADER + size);
  } else {
    if (node.dataAt + size > file.pageSize) throw new LmdbFileError(`${at}: node ${index}'s ${size} bytes of data run past the page`);
    list = page.bytes.subarray(node.dataAt, node.dataAt + size);
  }
  const count = list.length >= 8 ? u64(list, 0) : -1n;
  if (count < 0n || (count + 1n) * 8n > BigInt(list.length))
    throw new LmdbFileError(`${at}: node ${index}'s page list of ${list.length} bytes does not hold its count ${count}`);
  const entries = Number(count);
  for (let i = 1; i <= entries; i++) {
    const entry = list.readBigInt64LE(i * 8);
    if (entry === 0n) continue;
    let first = entry;
    let run = 1n;
    if (entry < 0n) {
      run = -entry;
      i++;
      if (i > entries) throw new LmdbFileError(`${at}: node ${index}'s page list ends inside a range`);
      first = list.readBigInt64LE(i * 8);
    }
    if (first < 2n || first + run - 1n > BigInt(lastPage))
      throw new LmdbFileError(`${at}: node ${index} lists free pages ${first}…${first + run - 1n}, outside pages 2…${lastPage}`);
  }
}
