// `chainlanes verify`: the whole store offline, or one entry proof.
import { DEFAULT_CONFIG } from '../config/index.js';
import { errorMessage } from '../log/index.js';
import { workerFile } from '../paths.js';
import { print, printError } from './output.js';
import { UsageError, stringFlag, type CommandSpec, type ParsedArgs } from './spec.js';
import type { StoreReport } from '../ledger/index.js';

export const verifyCommand: CommandSpec = {
  name: 'verify',
  forms: ['[--data DIR] [--anchors RPC_URL]', '--entry URL|FILE [--key HEX] [--anchors RPC_URL]'],
  summary: 'check a store (blocks, proofs, credits, anchors) or one entry proof',
  description: [
    'With --data (default ./data, or CHAINLANES_DATA): checks every block, proof and hash link in the store,',
    "the directory log and every head the store's key signed against it, and the credits (supply, burns per",
    "block); with --anchors, also every confirmed anchor window's transaction on that Ethereum node.",
    'Directories whose blocks a gateway back from a failover removed (never acknowledged by its standby, so never',
    "committed) are reported as superseded, naming the takeover's fencing token and the gateway that took over.",
    'With --entry: checks one entry proof (GET …/entries/{seq}, from a URL or a file) offline; for a URL,',
    "?head=latest is asked for, and the head it carries is checked against --key (the gateway's Ed25519",
    'public key you trust) or else the key the gateway presents; with --anchors, its anchor transaction.',
    'Exit status: 0 when all verify, 1 at the first break (named), 2 for wrong usage or no store.',
  ].join('\n'),
  flags: [
    { name: 'data', value: 'DIR', help: 'the store to check' },
    { name: 'entry', value: 'URL|FILE', help: 'one entry proof to check instead of a store' },
    { name: 'anchors', value: 'RPC_URL', help: 'also check anchor transactions on this Ethereum node' },
    { name: 'key', value: 'HEX', help: "with --entry: the gateway's Ed25519 public key the proof's head must be signed by" },
  ],
  run: verify,
};

async function verify(args: ParsedArgs): Promise<void> {
  const entry = stringFlag(args, 'entry');
  const anchors = stringFlag(args, 'anchors');
  const key = stringFlag(args, 'key');
  if (entry !== undefined) return verifyEntryProof(entry, anchors, key);
  if (key !== undefined) throw new UsageError('--key goes with --entry (a store is checked against the key it records)');
  const dir = stringFlag(args, 'data') ?? process.env.CHAINLANES_DATA ?? DEFAULT_CONFIG.dataDir;
  const { assertStoreExists, verifyStoreIsolated } = await import('../ledger/index.js');
  assertStoreExists(dir);
  // The walk runs in a child process: lmdb crashing on a damaged file must be
  // reported, not take the command down. The credit and head checks run in
  // the same walk, so the store is read once.
  const report = await verifyStoreIsolated(dir, workerFile(import.meta.url, 'verify-checks'));
  const summary = `${report.chains} chains, ${report.blocks} entry blocks, ${report.entries} entries, ${report.directories} directory blocks`;
  if (report.ok) {
    print(`chainlanes verify: OK: ${summary} in ${dir}`);
    if (report.log !== undefined)
      print(
        `chainlanes verify: OK: directory log: ${report.log.logged} of ${report.directories} directory hashes in its tree, ${report.log.heads} signed heads with the log's roots`,
      );
    for (const line of supersededLines(report.superseded)) print(`chainlanes verify: OK: ${line}`);
    for (const line of replicatedLines(report.replicated)) print(`chainlanes verify: OK: ${line}`);
    for (const line of report.checks ?? []) print(`chainlanes verify: OK: ${line}`);
    if (anchors !== undefined) await verifyStoreAnchors(dir, anchors);
    return;
  }
  printError(`chainlanes verify: BROKEN: ${report.firstBreak ?? 'unknown break'} (checked before it: ${summary})`);
  process.exit(1);
}

/** "directories 5–7 (4 blocks) superseded by failover at token 812 (taken over by "g2")", per truncation (docs/replicas.md part 6). */
function supersededLines(superseded: StoreReport['superseded']): string[] {
  return (superseded ?? []).map(({ by, token, at, directories, blocks }) => {
    const which =
      directories.from === directories.to ? `directory ${directories.from}` : `directories ${directories.from}–${directories.to} (${directories.count})`;
    return `${which}: ${blocks} blocks never acknowledged by the standby, removed, superseded by failover at token ${token} (taken over by ${JSON.stringify(by)}, ${new Date(at).toISOString()})`;
  });
}

/** "replicated from "g1": 12 directories", and its superseded ones (shipped with their mark, no blocks), per owner this store stands by for. */
function replicatedLines(replicated: StoreReport['replicated']): string[] {
  return (replicated ?? []).map(({ owner, directories, superseded }) => {
    const gone = superseded.map(
      (s) => `${s.directories.from}–${s.directories.to} superseded by failover at token ${s.token} (taken over by ${JSON.stringify(s.by)})`,
    );
    return `replicated from ${JSON.stringify(owner)}: ${directories} directories linked${gone.length > 0 ? `; ${gone.join(', ')}` : ''}`;
  });
}

/**
 * One entry proof, from a gateway URL or a file: its hashes up to the
 * directory, the directory hash in a head signed by the gateway's key, and
 * with `rpcUrl` up to its anchor transaction.
 */
async function verifyEntryProof(source: string, rpcUrl: string | undefined, keyHex: string | undefined): Promise<void> {
  const { verifyEntry, verifyAnchor, keyFingerprint } = await import('../client/index.js');
  const { readFileSync } = await import('node:fs');
  if (keyHex !== undefined && !/^[0-9a-fA-F]{64}$/.test(keyHex)) throw new UsageError("--key must be the gateway's Ed25519 public key: 64 hex digits");
  const remote = /^https?:\/\//.test(source);
  let proof: Parameters<typeof verifyEntry>[0];
  let key = keyHex?.toLowerCase();
  try {
    const url = remote ? withHead(source) : null;
    const text = url === null ? readFileSync(source, 'utf8') : await fetchText(url.href);
    proof = JSON.parse(text) as typeof proof;
    // Without --key, the key the gateway presents: it shows the proof and the head agree, not that the gateway is honest.
    if (key === undefined && url !== null && proof.head !== undefined)
      key = (JSON.parse(await fetchText(new URL('/v1/directory/key', url).href)) as { key: string }).key;
  } catch (error) {
    printError(`chainlanes verify: cannot read the proof at ${source}: ${errorMessage(error)}`);
    process.exit(1);
  }
  const what = `chain ${JSON.stringify(proof.chain)} seq ${proof.seq}`;
  const offline = verifyEntry(proof, key === undefined ? {} : { key });
  if (!offline.ok) {
    printError(`chainlanes verify: BROKEN: ${what}: ${offline.reason}`);
    process.exit(1);
  }
  const head =
    proof.head === undefined
      ? ''
      : key === undefined
        ? ` → log root of size ${proof.head.size} (signature not checked: give --key)`
        : ` → head of size ${proof.head.size} signed by key ${keyFingerprint(key)}${keyHex === undefined ? ' (as the gateway presents it; pin it with --key)' : ''}`;
  print(
    `chainlanes verify: OK: ${what}: entry → block ${proof.height} → directory ${proof.directory?.height ?? '(not sealed)'}${head}` +
      (proof.anchor === undefined ? '' : ` → anchor window ${proof.anchor.window.first}…${proof.anchor.window.last}`),
  );
  if (rpcUrl === undefined) return;
  const anchored = await verifyAnchor(proof, rpcUrl);
  if (!anchored.ok) {
    printError(`chainlanes verify: BROKEN: ${what}: ${anchored.reason}`);
    process.exit(1);
  }
  print(
    `chainlanes verify: OK: ${what}: anchored by transaction ${proof.anchor!.tx} in block ${anchored.blockNumber} (${proof.anchor!.blockHash}) ` +
      `of chain id ${anchored.networkId}, ${anchored.confirmations} confirmations`,
  );
}

/** An entry proof's URL asking for the head part, unless it asks for one already. */
function withHead(source: string): URL {
  const url = new URL(source);
  if (!url.searchParams.has('head')) url.searchParams.set('head', 'latest');
  return url;
}

/** Every confirmed anchor window of the store: its root from the store's directory hashes, its transaction on the node. */
async function verifyStoreAnchors(dir: string, rpcUrl: string): Promise<void> {
  const { storedWindows } = await import('../anchors/index.js');
  const { verifyAnchorTransaction } = await import('../client/index.js');
  const windows = await storedWindows(dir);
  if (windows.broken !== null) {
    printError(`chainlanes verify: BROKEN: ${windows.broken}`);
    process.exit(1);
  }
  for (const anchor of windows.confirmed) {
    const result = await verifyAnchorTransaction(anchor, rpcUrl);
    if (!result.ok) {
      printError(`chainlanes verify: BROKEN: anchor window ${anchor.window.first}…${anchor.window.last}: ${result.reason}`);
      process.exit(1);
    }
  }
  const last = windows.confirmed.at(-1);
  print(
    `chainlanes verify: OK: anchors: ${windows.confirmed.length} confirmed windows` +
      (last === undefined ? '' : ` (directories 0…${last.window.last})`) +
      ` found in their transactions on ${rpcUrl}, ${windows.pending} not yet confirmed`,
  );
}

async function fetchText(url: string): Promise<string> {
  const response = await fetch(url);
  const text = await response.text();
  if (!response.ok) throw new Error(`HTTP ${response.status}: ${text.slice(0, 200)}`);
  return text;
}
