// The dashboard: asks for a key when the gateway wants one, follows the live
// feed (GET /v1/dashboard/stream) and draws lanes, chains, moves and charts.
// Plain ES modules, no build: served by the gateway as they are.
import { el, clear, api, session } from '/web/common.js';
import { Explorer } from '/web/explorer.js';
import { renderFleet } from '/web/fleet.js';

const RECONNECT_MS = 2000;
const MAX_MOVES_SHOWN = 200;

const $ = (id) => document.getElementById(id);
let history = [];
let tickMs = 250;
let utilisation = {};
const explorer = new Explorer($('explorer-nav'), $('explorer-body'));

async function start() {
  const answer = await api('/v1/dashboard/session');
  if (answer.status === 401) return askForKey(session.key() === null ? '' : 'that key was refused: ' + answer.body.error.message);
  if (!answer.ok) return setStatus('closed', `cannot start: ${answer.body.error?.message ?? answer.status}`);
  $('key-form').hidden = true;
  $('main').hidden = false;
  $('viewer').textContent = answer.body.mode === 'open' ? 'open mode' : `signed in as ${answer.body.viewer}`;
  $('forget').hidden = answer.body.mode === 'open';
  openFeed();
}

function askForKey(message) {
  $('main').hidden = true;
  $('key-form').hidden = false;
  $('key-error').textContent = message;
  setStatus('closed', 'locked');
  $('key').focus();
}

$('key-form').addEventListener('submit', (event) => {
  event.preventDefault();
  session.setKey($('key').value.trim());
  $('key').value = '';
  void start();
});
$('forget').addEventListener('click', () => {
  session.setKey(null);
  location.reload();
});
$('open-directory').addEventListener('click', () => void explorer.openDirectory(null));

function setStatus(state, text) {
  $('status').dataset.state = state;
  $('status').textContent = text;
}

function openFeed() {
  const url = new URL('/v1/dashboard/stream', location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  // Browsers cannot set headers on a WebSocket: the key goes in ?key= (docs/protocol.md).
  if (session.key() !== null) url.searchParams.set('key', session.key());
  const ws = new WebSocket(url);
  ws.addEventListener('open', () => setStatus('live', 'live'));
  ws.addEventListener('message', (event) => onMessage(JSON.parse(event.data)));
  ws.addEventListener('close', () => {
    setStatus('closed', 'disconnected, retrying…');
    setTimeout(() => void start(), RECONNECT_MS);
  });
}

function onMessage(message) {
  if (message.type === 'hello') {
    tickMs = message.tickMs;
    history = message.history;
  } else if (message.type === 'tick') {
    history.push(message.sample);
    history = history.slice(-Math.ceil((5 * 60 * 1000) / tickMs));
    for (const event of message.events) addMove(event);
    if (message.eventsDropped > 0) addMove({ type: 'dropped', at: Date.now(), count: message.eventsDropped });
  }
  renderLanes(message.lanes);
  renderAnchors(message.anchors);
  renderChains(message.chains, message.chainsTotal);
  renderFleet(message.fleet);
  renderCharts();
}

function addMove(event) {
  if (event.type === 'cores') utilisation = event.utilisation;
  const time = new Date(event.at).toLocaleTimeString();
  const text = event.type === 'chain-move' ? `${time} chain ${event.chain}: ${event.from} → ${event.to} at ${event.entriesPerSec} entries/s`
    : event.type === 'cores' ? `${time} cores: ${Object.entries(event.lanes).map(([lane, cores]) => `${lane} [${cores.join(',')}]`).join(' ')}`
    : `${time} ${event.count} more moves not shown`;
  const item = el('li', { 'data-type': event.type }, text);
  if (event.type === 'chain-move') item.dataset.chain = event.chain;
  $('moves').prepend(item);
  while ($('moves').children.length > MAX_MOVES_SHOWN) $('moves').lastChild.remove();
}

/** Whatever a lane reports is shown: fields another version adds (capacity…) appear by themselves. */
function renderLanes(view) {
  const box = clear($('lanes'));
  for (const lane of view.lanes ?? []) {
    const rows = [['cores', (lane.cores ?? []).join(', ') || 'shared'], ['workers', lane.workers]];
    if (utilisation[lane.name] !== undefined) rows.push(['utilisation', `${Math.round(utilisation[lane.name] * 100)} %`]);
    for (const [key, value] of Object.entries(lane)) {
      if (['name', 'cores', 'workers', 'chains', 'ringBytes', 'ringUsed'].includes(key) || typeof value === 'object') continue;
      rows.push([key, typeof value === 'number' ? value.toLocaleString() : String(value)]);
    }
    // The balancer's numbers (GET /v1/lanes, docs/configuration.md "Capacity, headroom, pins and the lane table").
    if (lane.capacity) rows.push(['capacity', `${perSec(lane.capacity.entriesPerSec, 'entries')}, ${perSec(lane.capacity.bytesPerSec, 'B')}`]);
    if (lane.demand) rows.push(['placed demand', `${perSec(lane.demand.entriesPerSec, 'entries')}, ${perSec(lane.demand.bytesPerSec, 'B')}`]);
    if (lane.demand && lane.headroom) rows.push(['load / headroom', `${(lane.demand.load * 100).toPrecision(3)} % of ${Math.round(lane.headroom.limit * 100)} %`]);
    rows.push(['chains', (lane.chains ?? []).length]);
    const used = lane.ringBytes > 0 ? lane.ringUsed / lane.ringBytes : 0;
    // Through the CSSOM: the page's CSP allows no inline style attributes.
    const fill = el('span');
    fill.style.width = `${Math.round(used * 100)}%`;
    box.append(el('div', { class: 'lane', 'data-lane': lane.name },
      el('h3', {}, lane.name),
      el('dl', {}, ...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, String(v))])),
      el('div', { title: `ring ${Math.round(used * 100)} % used` }, 'ring', el('div', { class: 'bar' }, fill))));
  }
}

/** Ethereum anchoring (README "Anchoring to Ethereum"): hidden when the gateway does not anchor. */
function renderAnchors(anchors) {
  const box = $('anchors');
  box.hidden = !anchors;
  if (!anchors) return;
  const rows = [
    ['status', anchors.status], ['anchored up to directory', anchors.anchoredHeight ?? '–'], ['sealed up to directory', anchors.sealedHeight ?? '–'],
    ['backlog', `${anchors.backlog ?? '–'} of at most ${anchors.backlogLimit} directory blocks`], ['window in flight', windowInFlight(anchors)],
    ['windows confirmed', anchors.windowsConfirmed], ['fee bumps', anchors.bumps ?? 0],
    ['reorganisations after confirmation', anchors.reorgsAfterConfirmation ?? 0], ['failures in a row', anchors.failuresInRow],
  ];
  const last = anchors.lastWindow;
  if (last?.feeWei != null) {
    rows.push(['fee paid, last window', `${wei(last.feeWei)} for directories ${last.first}–${last.last} (${last.gasUsed} gas at ${wei(last.gasPriceWei)}${last.bumps > 0 ? `, after ${plural(last.bumps, 'bump')}` : ''})`]);
  }
  const { today, total } = anchors.costs ?? {};
  if (today) rows.push(['fees today (UTC)', `${wei(today.feeWei)} for ${plural(today.windows, 'window')}`]);
  if (total?.feeWeiPerMillionEntries != null) rows.push(['fees per million entries', `${wei(total.feeWeiPerMillionEntries)} (${wei(total.feeWei)} in all)`]);
  if (anchors.lastError) rows.push(['last error', anchors.lastError]);
  clear(box).append(el('h3', {}, 'Anchoring to Ethereum'), el('dl', {}, ...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, String(v))])));
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

/** 1234567 → "1.23 M entries/s". */
function perSec(value, unit) {
  const scaled = value >= 1e9 ? `${(value / 1e9).toPrecision(3)} G` : value >= 1e6 ? `${(value / 1e6).toPrecision(3)} M`
    : value >= 1e3 ? `${(value / 1e3).toPrecision(3)} k` : `${Math.round(value)} `;
  return `${scaled}${unit}/s`;
}

function renderChains(chains, total) {
  $('chains-total').textContent = `(${total}${chains.length < total ? `, busiest ${chains.length} shown` : ''})`;
  const body = clear($('chains').tBodies[0]);
  for (const chain of chains) {
    const open = el('button', { class: 'link' }, chain.name);
    open.addEventListener('click', () => void explorer.openChain(chain.name));
    body.append(el('tr', { 'data-chain': chain.name },
      el('td', {}, open), el('td', { 'data-lane': chain.lane }, chain.lane),
      el('td', {}, String(chain.entriesPerSec)), el('td', {}, String(chain.bytesPerSec)),
      el('td', {}, String(chain.nextSeq)), el('td', {}, String(chain.committedSeq)), el('td', {}, String(chain.height))));
  }
}

function renderCharts() {
  drawChart($('chart-rate'), [['acceptedPerSec', '#2e6ae6'], ['committedPerSec', '#17803d']]);
  drawChart($('chart-latency'), [['acceptedP50Ms', '#2e6ae6'], ['acceptedP99Ms', '#93b4f5'], ['committedP50Ms', '#17803d'], ['committedP99Ms', '#8fd3a5']]);
  $('uncommitted').textContent = String(history.at(-1)?.uncommitted ?? 0);
}

/** A line per series over the samples kept, scaled to the largest value, the time axis the last five minutes. */
function drawChart(canvas, series) {
  const g = canvas.getContext('2d');
  const { width, height } = canvas;
  g.clearRect(0, 0, width, height);
  const values = history.flatMap((s) => series.map(([k]) => s[k] ?? 0));
  const top = Math.max(1, ...values);
  g.fillStyle = '#667085';
  g.font = '11px system-ui';
  g.fillText(top.toLocaleString(), 4, 12);
  const span = 5 * 60 * 1000;
  const now = history.at(-1)?.at ?? Date.now();
  for (const [key, color] of series) {
    g.strokeStyle = color;
    g.beginPath();
    history.forEach((s, i) => {
      const x = width - ((now - s.at) / span) * width;
      const y = height - 2 - ((s[key] ?? 0) / top) * (height - 16);
      if (i === 0) g.moveTo(x, y);
      else g.lineTo(x, y);
    });
    g.stroke();
  }
}

void start();
