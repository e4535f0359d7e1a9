// examples/verify_proof.py is a second, independent implementation of the proof
// checks in docs/protocol.md. Running it on real proofs from a real gateway shows
// that the page is complete enough to verify from, and that the gateway's proofs
// match the page; the tampering cases show the script can actually say no.
import { beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EntryProof } from '../../src/protocol/index.js';
import { ROOT, flipHex, startGateway, type ChildGateway } from '../helpers/index.js';

const SCRIPT = join(ROOT, 'examples', 'verify_proof.py');
const CHAIN = 'py-verify';

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function verifyWithPython(proof: unknown, args: string[] = []): Run {
  const run = spawnSync('python3', [SCRIPT, ...args], { input: JSON.stringify(proof), encoding: 'utf8', timeout: 20_000 });
  if (run.error !== undefined) throw run.error;
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

function clone(proof: EntryProof): EntryProof {
  return structuredClone(proof);
}

interface PostAnswer {
  seq: number;
  count: number;
  committed: boolean;
}

describe('examples/verify_proof.py against a real gateway', () => {
  let gw: ChildGateway;
  const proofs = new Map<number, EntryProof>();

  async function post(entries: string[]): Promise<PostAnswer> {
    const res = await gw.http(`/v1/chains/${CHAIN}/entries?wait=committed`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(entries),
    });
    expect(res.status).toBe(200);
    return (await res.json()) as PostAnswer;
  }

  async function proofOf(seq: number): Promise<EntryProof> {
    const known = proofs.get(seq);
    if (known !== undefined) return known;
    const res = await gw.http(`/v1/chains/${CHAIN}/entries/${seq}`);
    expect(res.status).toBe(200);
    const proof = (await res.json()) as EntryProof;
    proofs.set(seq, proof);
    return proof;
  }

  beforeAll(async () => {
    // maxBlockEntries 4 makes the first request's 6 entries two blocks of one
    // chain sealed in one directory block: a block of 4 whose first and last
    // entries are checked, and a directory tree of 2 leaves, so the directory
    // path is not empty and tampering with it can be tried.
    gw = await startGateway({ config: { ledger: { blockIntervalMs: 50, maxBlockEntries: 4 } } });
    expect(await post(['e0', 'e1', 'e2', 'e3', 'e4', 'e5'])).toMatchObject({ seq: 0, count: 6, committed: true });
    expect(await post(['f6', 'f7', 'f8'])).toMatchObject({ seq: 6, count: 3, committed: true });
  });

  it('lays the entries out as the test assumes', async () => {
    const first = await proofOf(0);
    const last = await proofOf(3);
    expect([first.height, first.index, first.count]).toEqual([0, 0, 4]);
    expect([last.height, last.index, last.count]).toEqual([0, 3, 4]);
    expect(first.directory?.count).toBe(2);
    expect(first.directory?.path).toHaveLength(1);
    expect((await proofOf(4)).directory?.height).toBe(first.directory?.height);
    expect([(await proofOf(6)).height, (await proofOf(6)).index]).toEqual([2, 0]);
  });

  it.each([0, 1, 3, 4, 5, 6, 8])('accepts the proof of seq %i', async (seq) => {
    const proof = await proofOf(seq);
    expect(Buffer.from(proof.content, 'base64').toString()).toBe(`${seq < 6 ? 'e' : 'f'}${seq}`);
    expect(verifyWithPython(proof)).toEqual({ status: 0, stdout: 'OK\n', stderr: '' });
  });

  it('binds a proof to a directory hash from /v1/anchors, and refuses any other', async () => {
    const proof = await proofOf(3);
    const height = proof.directory?.height ?? -1;
    const { anchors } = await gw.json<{ anchors: { height: number; hash: string }[] }>(`/v1/anchors?from=${height}&limit=1`);
    const trusted = anchors[0]?.hash ?? '';
    expect(anchors[0]?.height).toBe(height);
    expect(verifyWithPython(proof, ['--directory-hash', trusted])).toMatchObject({ status: 0, stdout: 'OK\n' });
    expect(verifyWithPython(proof, ['--directory-hash', flipHex(trusted, 10)])).toMatchObject({
      status: 1,
      stdout: 'BROKEN: directory hash differs from the trusted one\n',
    });
  });

  it('says BROKEN, exit 1, for a tampered proof', async () => {
    const cases: [string, (p: EntryProof) => void, RegExp][] = [
      [
        'a block path element',
        (p) => {
          p.path[0] = flipHex(p.path[0]!, 17);
        },
        /^BROKEN: path does not lead to the block root\n$/,
      ],
      [
        'a directory path element',
        (p) => {
          p.directory!.path[0] = flipHex(p.directory!.path[0]!, 40);
        },
        /^BROKEN: directory\.path does not lead to the directory root\n$/,
      ],
      [
        'the content',
        (p) => {
          p.content = Buffer.from('e9').toString('base64');
        },
        /^BROKEN: hash is not SHA-256 of the content\n$/,
      ],
      [
        'the seq',
        (p) => {
          p.seq += 1;
        },
        /^BROKEN: header firstSeq \+ index is not seq\n$/,
      ],
      [
        'the count',
        (p) => {
          p.count += 1;
        },
        /^BROKEN: /,
      ],
      [
        'the header',
        (p) => {
          p.header = flipHex(p.header, 2 * 116 + 15);
        },
        /^BROKEN: blockHash is not SHA-256 of the header\n$/,
      ],
      [
        'the chain name',
        (p) => {
          p.chain = 'py-verifz';
        },
        /^BROKEN: chainId is not SHA-256 of the chain name\n$/,
      ],
    ];
    const original = await proofOf(3);
    expect(original.path.length).toBeGreaterThan(0);
    for (const [what, tamper, message] of cases) {
      const proof = clone(original);
      tamper(proof);
      const run = verifyWithPython(proof);
      expect({ what, status: run.status }).toEqual({ what, status: 1 });
      expect(run.stdout, what).toMatch(message);
    }
  });
});

describe('examples/verify_proof.py against docs/protocol.md', () => {
  it('accepts the sample proof of section 15.6, bound to its directory hash', () => {
    const page = readFileSync(join(ROOT, 'docs', 'protocol.md'), 'utf8');
    const block = /<!-- sample-proof -->\n```json\n([\s\S]*?)\n```/.exec(page);
    expect(block).not.toBeNull();
    const proof = JSON.parse(block![1]!) as EntryProof;
    expect(proof.directory?.hash).toBe('fbf5c2b4848b813e3ac5620e36972d264f720521e78de1c365f1ccc795d313ff');
    expect(verifyWithPython(proof, ['--directory-hash', proof.directory!.hash])).toEqual({ status: 0, stdout: 'OK\n', stderr: '' });
    const moved = { ...proof, index: 2 };
    expect(verifyWithPython(moved).status).toBe(1);
  });
});

describe('examples/verify_proof.py run by hand', () => {
  it('says what it wants instead of waiting on a terminal with nothing piped in', () => {
    // script(1) gives the verifier a terminal for stdin, as a person typing the command has.
    const run = spawnSync('script', ['-qec', `python3 ${SCRIPT}`, '/dev/null'], { encoding: 'utf8', timeout: 20_000, stdio: ['ignore', 'pipe', 'pipe'] });
    expect(run.status).toBe(2);
    expect(run.stdout).toMatch(/no proof given: pipe one in/);
  });
});
