// One look at one gateway: its signed head, checked against the key pinned at
// first contact and, by a consistency proof, against the last head accepted
// from it. What the gateway answers is hostile input: every field is checked
// before it is used, and a head is accepted only once it verifies and is
// consistent with the one before.
import { headSignatureProblem, keyFingerprint, verifyConsistency, type ConsistencyProofView, type SignedHead } from '../client/index.js';
import type { Evidence, EvidenceEvent } from './evidence.js';
import { Unreachable, getJson } from './fetch.js';
import type { GatewayState } from './state.js';

export interface CheckSettings {
  timeoutMs: number;
  /** A head signed longer ago than this is stale. */
  maxAgeMs: number;
  now(): number;
}

export interface CheckOutcome {
  /** The state to keep: its accepted head moves only on a head that verified and is consistent. */
  state: GatewayState;
  /** The head accepted in this look: newer than the one before (null when none was). */
  accepted: SignedHead | null;
  /** The head served in this look, when it verified and was consistent (accepted or not newer). */
  checked: SignedHead | null;
  /** The head accepted before it. */
  previous: SignedHead | null;
  /** An event with its evidence, when the look found one. */
  event: { event: EvidenceEvent; evidence: Omit<Evidence, 'detectedAt'> } | null;
  /** Why the gateway could not be asked (then nothing else is set). */
  unreachable: string | null;
}

const HEX_KEY = /^[0-9a-f]{64}$/;

export async function checkGateway(url: string, known: GatewayState | null, settings: CheckSettings): Promise<CheckOutcome> {
  const base = url.replace(/\/+$/, '');
  let state = known;
  try {
    state ??= await firstContact(url, base, settings.timeoutMs);
    const answer = await getJson(`${base}/v1/directory/head`, settings.timeoutMs);
    if (answer.status !== 200) throw new Unreachable(`GET ${base}/v1/directory/head: HTTP ${answer.status} ${errorOf(answer.body)}`);
    return await judge(base, state, answer.body, settings);
  } catch (error) {
    if (!(error instanceof Unreachable)) throw error;
    return {
      state: state ?? { url, key: '', fingerprint: '', accepted: null, acceptedAt: null },
      accepted: null,
      checked: null,
      previous: known?.accepted ?? null,
      event: null,
      unreachable: error.message,
    };
  }
}

/** Pins the key the gateway presents now (trust on first use; docs/protocol.md §13.7). */
async function firstContact(url: string, base: string, timeoutMs: number): Promise<GatewayState> {
  const { status, body } = await getJson(`${base}/v1/directory/key`, timeoutMs);
  const key = (body as { key?: unknown } | null)?.key;
  if (status !== 200 || typeof key !== 'string' || !HEX_KEY.test(key))
    throw new Unreachable(`GET ${base}/v1/directory/key: HTTP ${status}, no Ed25519 key in the answer ${errorOf(body)}`);
  return { url, key, fingerprint: keyFingerprint(key), accepted: null, acceptedAt: null };
}

async function judge(base: string, state: GatewayState, body: unknown, settings: CheckSettings): Promise<CheckOutcome> {
  const previous = state.accepted;
  const head = signedHeadOf(body);
  const problem = head === null ? 'the answer is not a signed head {size, time, root, signature}' : headSignatureProblem(head, state.key);
  const outcome = (event: EvidenceEvent, reason: string, extra: Partial<Evidence> = {}): CheckOutcome => ({
    state,
    accepted: null,
    checked: null,
    previous,
    event: {
      event,
      evidence: {
        format: 'chainlanes-monitor-evidence/1',
        event,
        gateway: state.url,
        reason,
        key: state.key,
        fingerprint: state.fingerprint,
        accepted: previous,
        received: body,
        proof: null,
        ...extra,
      },
    },
    unreachable: null,
  });
  if (head === null || problem !== null) {
    const presented = await presentedKey(base, settings.timeoutMs);
    return outcome('bad-signature', problem!, presented !== null && presented !== state.key ? { presentedKey: presented } : {});
  }
  if (previous !== null && head.size === previous.size && head.root !== previous.root) {
    return outcome('fork', `two heads of size ${head.size} signed with different roots`);
  }
  // A smaller head after a larger one: the gateway signed both, so it went back (a gateway cannot prove a size it no longer has).
  if (previous !== null && head.size < previous.size)
    return outcome('rollback', `a head of size ${head.size}, after one of size ${previous.size} was accepted`);
  if (previous !== null && head.size > previous.size) {
    const proof = await consistencyProof(base, previous.size, head.size, settings.timeoutMs);
    if ('unproven' in proof) return outcome('unproven', `no consistency proof from ${previous.size} to ${head.size}: ${proof.unproven}`);
    const checked = verifyConsistency(previous, head, proof.path);
    if (!checked.ok)
      return outcome(
        'fork',
        `the gateway's consistency proof from size ${previous.size} to ${head.size} does not hold (${checked.reason}): the heads it signed are not one history`,
        { proof },
      );
  }
  const newer = previous === null || head.size > previous.size || head.time > previous.time;
  const next = newer ? { ...state, accepted: head, acceptedAt: settings.now() } : state;
  const age = settings.now() - head.time;
  if (age > settings.maxAgeMs) {
    return {
      ...outcome('stale', `the gateway's head was signed ${Math.round(age / 1000)} s ago, more than --max-age ${settings.maxAgeMs / 1000} s`),
      state: next,
      accepted: newer ? head : null,
      checked: head,
    };
  }
  return { state: next, accepted: newer ? head : null, checked: head, previous, event: null, unreachable: null };
}

/** The proof from `from` to `to`, or why the gateway gave none (a refusal is not a network fault: it is reported). */
async function consistencyProof(base: string, from: number, to: number, timeoutMs: number): Promise<ConsistencyProofView | { unproven: string }> {
  const { status, body } = await getJson(`${base}/v1/directory/consistency?from=${from}&to=${to}`, timeoutMs);
  if (status >= 500) throw new Unreachable(`GET ${base}/v1/directory/consistency: HTTP ${status} ${errorOf(body)}`);
  if (status !== 200) return { unproven: `HTTP ${status} ${errorOf(body)}` };
  const proof = body as Partial<ConsistencyProofView> | null;
  if (proof?.from !== from || proof.to !== to || !Array.isArray(proof.path) || proof.path.length > 128)
    return { unproven: 'the answer is not a proof {from, to, path} between these sizes' };
  return { from, to, path: proof.path };
}

async function presentedKey(base: string, timeoutMs: number): Promise<string | null> {
  try {
    const { body } = await getJson(`${base}/v1/directory/key`, timeoutMs);
    const key = (body as { key?: unknown } | null)?.key;
    return typeof key === 'string' ? key : null;
  } catch {
    return null;
  }
}

/** The four signed fields of an answer, or null when it has not got them (extra fields are the gateway's business). */
function signedHeadOf(body: unknown): SignedHead | null {
  if (typeof body !== 'object' || body === null) return null;
  const { size, time, root, signature } = body as Record<string, unknown>;
  if (typeof size !== 'number' || typeof time !== 'number' || typeof root !== 'string' || typeof signature !== 'string') return null;
  return { size, time, root, signature };
}

function errorOf(body: unknown): string {
  const message = (body as { error?: { message?: unknown } } | null)?.error?.message;
  return typeof message === 'string' ? `(${message.slice(0, 200)})` : '';
}
