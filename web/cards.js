// The cards: one per lane, and Ethereum anchoring. Every figure says what it
// is: a short name, and a title (shown on hover) saying what it measures and
// over what — a lane's capacity is that lane's, and for hashing only.
import { el, clear } from '/web/common.js';

/** A definition list of [name, value, what it means] rows. */
export function figures(rows) {
  return el(
    'dl',
    {},
    ...rows.flatMap(([name, value, what]) => {
      const key = el('dt', { title: what }, name);
      return [key, el('dd', { title: what, 'data-figure': name }, String(value))];
    }),
  );
}

/** `utilisation` by lane name, from the balancer's last core move (null before one). */
export function renderLanes(box, view, utilisation) {
  clear(box);
  for (const lane of view.lanes ?? []) {
    const rows = [
      ['cores', (lane.cores ?? []).join(', ') || 'shared', 'the CPU cores this lane\'s worker threads are pinned to ("shared": not pinned)'],
      ['worker threads', lane.workers, "threads hashing this lane's frames"],
    ];
    if (utilisation?.[lane.name] !== undefined) {
      rows.push([
        'utilisation',
        `${Math.round(utilisation[lane.name] * 100)} %`,
        "the share of this lane's cores busy hashing, as the balancer measured it at its last core move",
      ]);
    }
    if (lane.capacity) {
      rows.push([
        'hashing capacity, this lane',
        `${perSec(lane.capacity.entriesPerSec, 'entries')}, ${perSec(lane.capacity.bytesPerSec, 'B')}`,
        "what this lane's cores can hash, measured at start-up by hashing real frames on them (÷ the correction, " +
          `${lane.capacity.correction}). Per lane and for hashing only: the gateway as a whole is bounded lower, by the front door and the store`,
      ]);
    }
    if (lane.demand) {
      rows.push([
        'placed demand',
        `${perSec(lane.demand.entriesPerSec, 'entries')}, ${perSec(lane.demand.bytesPerSec, 'B')}`,
        'the moving average of what the chains placed in this lane write, pinned ones included',
      ]);
    }
    if (lane.demand && lane.headroom) {
      rows.push([
        'load / headroom',
        `${percent(lane.demand.load)} of ${Math.round(lane.headroom.limit * 100)} %`,
        'placed demand as a share of the hashing capacity, and the share the balancer keeps it under (balancer.headroom)',
      ]);
    }
    rows.push(
      ['entries hashed', count(lane.entries), 'entries this lane has hashed since the gateway started'],
      ['hashing tasks', count(lane.tasks), 'batches of frames handed to the worker threads since start'],
      ['frames hashed inline', count(lane.inlineFrames), 'small frames the front door hashed itself because the lane was idle (cheaper than a hand-off)'],
      ['backlog', `${count(lane.backlogFrames)} frames`, 'frames admitted to this lane and not yet hashed'],
      ['worker retries', count(lane.retries), 'hashing tasks run again after a worker thread failed'],
      ['chains', (lane.chains ?? []).length, 'chains in this lane that this page shows'],
    );
    const used = lane.ringBytes > 0 ? lane.ringUsed / lane.ringBytes : 0;
    // Through the CSSOM: the page's CSP allows no inline style attributes.
    const fill = el('span');
    fill.style.width = `${Math.round(used * 100)}%`;
    const ringWhat = `the lane's ring (${count(lane.ringBytes)} bytes, shared with its workers): frames admitted and not yet answered`;
    box.append(
      el(
        'div',
        { class: 'lane', 'data-lane': lane.name },
        el('h3', {}, `${lane.name} lane`),
        figures(rows),
        el('div', { class: 'ring', title: ringWhat }, `ring ${Math.round(used * 100)} % used`, el('div', { class: 'bar' }, fill)),
      ),
    );
  }
}

/** Ethereum anchoring (README "Anchoring to Ethereum"): hidden when the gateway does not anchor. */
export function renderAnchors(box, anchors) {
  box.hidden = !anchors;
  if (!anchors) return;
  const rows = [
    ['status', anchors.status, 'whether anchoring keeps up'],
    ['anchored up to directory', anchors.anchoredHeight ?? '–', 'the last directory block in a confirmed anchor window'],
    ['sealed up to directory', anchors.sealedHeight ?? '–', 'the last directory block the gateway sealed'],
    ['backlog', `${anchors.backlog ?? '–'} of at most ${anchors.backlogLimit} directory blocks`, 'directory blocks sealed and not yet anchored'],
    ['window in flight', windowInFlight(anchors), 'the anchor window whose transaction is being confirmed'],
    ['windows confirmed', anchors.windowsConfirmed, 'anchor windows confirmed since start'],
    ['fee bumps', anchors.bumps ?? 0, 'transactions replaced with a higher fee'],
    ['reorganisations after confirmation', anchors.reorgsAfterConfirmation ?? 0, 'confirmed windows whose transaction left the chain'],
    ['failures in a row', anchors.failuresInRow, 'anchoring attempts that failed since the last success'],
  ];
  const last = anchors.lastWindow;
  if (last?.feeWei != null) {
    rows.push([
      'fee paid, last window',
      `${wei(last.feeWei)} for directories ${last.first}–${last.last} (${last.gasUsed} gas at ${wei(last.gasPriceWei)}${last.bumps > 0 ? `, after ${plural(last.bumps, 'bump')}` : ''})`,
      "what the last confirmed window's transaction cost",
    ]);
  }
  const { today, total } = anchors.costs ?? {};
  if (today) rows.push(['fees today (UTC)', `${wei(today.feeWei)} for ${plural(today.windows, 'window')}`, 'fees paid since midnight UTC']);
  if (total?.feeWeiPerMillionEntries != null)
    rows.push(['fees per million entries', `${wei(total.feeWeiPerMillionEntries)} (${wei(total.feeWei)} in all)`, 'fees paid ÷ entries anchored, ×10⁶']);
  if (anchors.lastError) rows.push(['last error', anchors.lastError, 'why the last attempt failed']);
  clear(box).append(el('h3', {}, 'Anchoring to Ethereum'), figures(rows));
}

/** The window in flight: where it is, and what the gateway offers for it (bumps, the cap). */
function windowInFlight(anchors) {
  const w = anchors.window;
  if (!w) return 'none';
  let text = `directories ${w.first}–${w.last}, ${w.state}, ${w.confirmations ?? 0} confirmations, fee cap ${gwei(w.maxFeePerGasGwei)} gwei`;
  if (w.bumps > 0) text += `, ${plural(w.bumps, 'bump')}`;
  if (w.atFeeCap) text += ` — at the ${gwei(anchors.maxFeePerGasGwei)} gwei cap, waiting for fees to fall`;
  if (w.refused) text += ` (the node refuses it: ${w.refused})`;
  return text;
}

function plural(n, noun) {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function gwei(value) {
  return Number(value).toLocaleString('en', { maximumSignificantDigits: 3 });
}

/** Wei (a decimal string) as ETH, or gwei below a thousandth of an ETH. */
function wei(value) {
  const n = Number(value);
  return n >= 1e15 ? `${(n / 1e18).toPrecision(4)} ETH` : `${gwei(n / 1e9)} gwei`;
}

/** 0.0123 → "1.23 %"; below 0.01 % → "< 0.01 %" (a light lane's load is often 1e-9 of its capacity). */
function percent(share) {
  return share > 0 && share < 1e-4 ? '< 0.01 %' : `${Number((share * 100).toPrecision(3))} %`;
}

function count(value) {
  return value === undefined ? '–' : Number(value).toLocaleString('en');
}

/** 1234567 → "1.23 M entries/s". */
export function perSec(value, unit) {
  const scaled =
    value >= 1e9
      ? `${(value / 1e9).toPrecision(3)} G`
      : value >= 1e6
        ? `${(value / 1e6).toPrecision(3)} M`
        : value >= 1e3
          ? `${(value / 1e3).toPrecision(3)} k`
          : `${Math.round(value)} `;
  return `${scaled}${unit}/s`;
}
