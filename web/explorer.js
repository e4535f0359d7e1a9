// The explorer: a chain's blocks, the directory blocks, and an entry whose
// proof this browser checks itself, step by step, with WebCrypto's SHA-256 and
// the client package's own verify code (src/client/verify.ts, served compiled),
// up to a head of the directory log signed by the gateway's key (Ed25519 of
// @noble/curves), which the page shows: the head the proof was checked against.
import { el, clear, api } from '/web/common.js';
import { contentView } from '/web/content.js';
import { verifyEntrySteps } from '/lib/src/client/verify.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2';

/**
 * WebCrypto's SHA-256 where the page is a secure context (https, or a loopback
 * address); elsewhere browsers hide crypto.subtle and the pure-JS one is used.
 */
const webCrypto = globalThis.crypto?.subtle;
const hasher =
  webCrypto !== undefined
    ? { name: 'WebCrypto SHA-256', sha256: async (data) => new Uint8Array(await webCrypto.digest('SHA-256', data)) }
    : { name: 'SHA-256 of @noble/hashes (this page is not a secure context, so WebCrypto is off)', sha256: (data) => nobleSha256(data) };

export class Explorer {
  constructor(nav, body) {
    this.nav = nav;
    this.body = body;
    /** The head key's answer, a promise asked for once (headKey). */
    this.key = null;
  }

  async openChain(name) {
    const chain = await this.get(`/v1/chains/${encodeURIComponent(name)}`);
    if (chain === null) return;
    this.crumbs(['chain', name]);
    if (chain.height < 0) return this.show(el('p', {}, `chain ${name} has no sealed block yet`));
    await this.openBlock(name, chain.height);
  }

  async openBlock(name, height) {
    const block = await this.get(`/v1/chains/${encodeURIComponent(name)}/blocks/${height}`);
    if (block === null) return;
    this.crumbs(['chain', name], ['block', height]);
    const entries = el('ol', { start: String(block.firstSeq), id: 'entries' });
    block.entryHashes.forEach((hash, i) => {
      const seq = block.firstSeq + i;
      const open = el('button', { class: 'link', 'data-seq': String(seq) }, `entry ${seq}`);
      open.addEventListener('click', () => void this.openEntry(name, seq));
      entries.append(el('li', {}, open, ' ', el('span', { class: 'hex' }, hash)));
    });
    this.show(
      el('h3', {}, `chain ${name}, block ${block.height}`),
      this.walk(height > 0 ? () => this.openBlock(name, height - 1) : null, () => this.openBlock(name, height + 1), 'block'),
      fields([
        ['hash', block.hash],
        ['previous', block.prevHash],
        ['Merkle root', block.root],
        ['seq', `${block.firstSeq} … ${block.firstSeq + block.count - 1}`],
        ['sealed', new Date(block.sealedAt).toISOString()],
      ]),
      this.link(`in directory block ${block.directory}`, () => this.openDirectory(block.directory)),
      entries,
    );
  }

  /** `height` null: the latest, found by walking from the chain of heights the gateway reports. */
  async openDirectory(height) {
    if (height === null) {
      const health = await this.get('/healthz', true);
      if (health === null) return;
      height = health.directoryHeight;
      if (height < 0) return this.show(el('p', {}, 'no directory block is sealed yet'));
    }
    const directory = await this.get(`/v1/directory/${height}`);
    if (directory === null) return;
    this.crumbs(['directory', height]);
    const list = el('ol', { start: '0' });
    for (const entry of directory.entries) {
      list.append(
        el(
          'li',
          {},
          this.link(`${entry.chain} block ${entry.height}`, () => this.openBlock(entry.chain, entry.height)),
          ' ',
          el('span', { class: 'hex' }, entry.blockHash),
        ),
      );
    }
    this.show(
      el('h3', {}, `directory block ${directory.height}`),
      this.walk(height > 0 ? () => this.openDirectory(height - 1) : null, () => this.openDirectory(height + 1), 'directory block'),
      fields([
        ['hash', directory.hash],
        ['previous', directory.prevHash],
        ['Merkle root', directory.root],
        ['blocks', String(directory.count)],
        ['sealed', new Date(directory.sealedAt).toISOString()],
      ]),
      list,
    );
  }

  /** The gateway's head key (GET /v1/directory/key), asked once; null when it signs no heads. */
  async headKey() {
    this.key ??= api('/v1/directory/key').then((answer) => (answer.ok ? answer.body : null));
    return this.key;
  }

  async openEntry(name, seq) {
    const key = await this.headKey();
    const proof = await this.get(`/v1/chains/${encodeURIComponent(name)}/entries/${seq}${key === null ? '' : '?head=latest'}`);
    if (proof === null) return;
    this.crumbs(['chain', name], ['block', proof.height], ['entry', seq]);
    const steps = el('ol', { id: 'steps' });
    const verdict = el('p', { id: 'verdict', 'data-state': 'checking' }, `checking with ${hasher.name}…`);
    this.show(
      el('h3', {}, `chain ${name}, entry ${seq}`),
      contentView(proof.content),
      fields([['block', `${proof.height} (leaf ${proof.index} of ${proof.count})`]]),
      el('h4', {}, `Proof, checked in this browser with ${hasher.name}`),
      steps,
      verdict,
    );
    const result = await verifyEntrySteps(
      proof,
      hasher.sha256,
      (step) => {
        steps.append(el('li', { class: 'good' }, `✓ ${step.what}: `, el('span', { class: 'hex' }, step.value)));
      },
      key === null ? { chain: name, seq } : { chain: name, seq, key: key.key },
    );
    verdict.dataset.state = result.ok ? 'verified' : 'failed';
    verdict.className = result.ok ? 'good' : 'bad';
    verdict.textContent = !result.ok
      ? `✗ NOT verified: ${result.reason}`
      : proof.directory === undefined
        ? '✓ verified up to the block hash (its directory block is not sealed yet)'
        : proof.head === undefined
          ? `✓ verified: the entry is in directory block ${proof.directory.height}, hash ${proof.directory.hash}`
          : `✓ verified: the entry is in directory block ${proof.directory.height}, in the directory log's head of size ${proof.head.size} that the gateway signed`;
    if (result.ok && proof.head !== undefined) this.body.append(headBox(proof.head, key));
  }

  /** The JSON at `path`, or null after showing why not. */
  async get(path, anyStatus = false) {
    const answer = await api(path);
    if (answer.ok || (anyStatus && answer.body !== null)) return answer.body;
    this.show(el('p', { class: 'error' }, `${path}: ${answer.body.error?.message ?? `HTTP ${answer.status}`}`));
    return null;
  }

  walk(previous, next, what) {
    const box = el('p', { class: 'walk' });
    if (previous !== null) box.append(this.link(`← previous ${what}`, previous), ' ');
    box.append(this.link(`next ${what} →`, next));
    return box;
  }

  link(text, action) {
    const button = el('button', { class: 'link' }, text);
    button.addEventListener('click', () => void action());
    return button;
  }

  crumbs(...parts) {
    const box = clear(this.nav);
    for (const [kind, value] of parts) {
      box.append(el('span', { class: 'crumb' }, `${kind} ${value}`), ' › ');
    }
  }

  show(...nodes) {
    clear(this.body).append(...nodes);
  }
}

/** The signed head a proof was checked against, and whose key signed it (as this gateway presents its key). */
function headBox(head, key) {
  return el(
    'section',
    { id: 'head' },
    el('h4', {}, 'Checked against this signed head of the directory log'),
    fields([
      ['size', `${head.size} directory hashes`],
      ['root', head.root],
      ['signed', new Date(head.time).toISOString()],
      ['signature', head.signature],
      ['key', `${key.fingerprint} (fingerprint of ${key.key})`],
    ]),
    el(
      'p',
      {},
      'The key is the one this gateway presents. Compare its fingerprint with one you trust, and a monitor ',
      '(chainlanes monitor) checks that every head it signs is consistent with the ones before.',
    ),
  );
}

function fields(rows) {
  return el('dl', {}, ...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', { class: 'hex' }, String(v))]));
}
