// The dashboard: asks for a key when the gateway wants one, follows the live
// feed (GET /v1/dashboard/stream) and draws lanes, charts, chains, the
// balancer's decisions and a chain's own view. Plain ES modules, no build:
// served by the gateway as they are, uPlot included (nothing from elsewhere).
import { el, clear, api, session } from '/web/common.js';
import { Explorer } from '/web/explorer.js';
import { TimeChart, WINDOW_SECONDS } from '/web/charts.js';
import { Moves } from '/web/moves.js';
import { ChainView } from '/web/chain-view.js';
import { renderAnchors, renderLanes } from '/web/cards.js';
import { renderFleet } from '/web/fleet.js';

const RECONNECT_MS = 2000;

const $ = (id) => document.getElementById(id);
let history = [];
let tickMs = 250;
/** The balancer's last measured utilisation per lane index (a core move's numbers), or null. */
let utilisation = null;
let mode = 'open';
let feed = null;
let charts = null;
const explorer = new Explorer($('explorer-nav'), $('explorer-body'));
const moves = new Moves($('moves'), $('moves-note'));
const chainView = new ChainView($('chain-view'), (name) => feed?.readyState === WebSocket.OPEN && feed.send(JSON.stringify({ watch: name })));

async function start() {
  const answer = await api('/v1/dashboard/session');
  if (answer.status === 401) return askForKey(session.key() === null ? '' : 'that key was refused: ' + answer.body.error.message);
  if (!answer.ok) return setStatus('closed', `cannot start: ${answer.body.error?.message ?? answer.status}`);
  $('key-form').hidden = true;
  $('main').hidden = false;
  mode = answer.body.mode;
  $('viewer').textContent = mode === 'open' ? 'open mode' : `signed in as ${answer.body.viewer}`;
  $('forget').hidden = mode === 'open';
  charts ??= makeCharts();
  openFeed();
  await moves.loadEarlier();
}

function makeCharts() {
  const box = $('charts');
  return {
    rate: new TimeChart(box, {
      title: 'Entries per second, all chains',
      unit: 'entries/s',
      series: [
        { label: 'accepted', color: '#2e6ae6' },
        { label: 'committed', color: '#17803d', dash: [6, 3] },
      ],
    }),
    latency: new TimeChart(box, {
      title: 'Latency from admission: to accepted (hashes ready), to committed (block sealed)',
      unit: 'ms',
      log: true,
      series: [
        { label: 'accepted p50', color: '#2e6ae6' },
        { label: 'accepted p99', color: '#93b4f5' },
        { label: 'committed p50', color: '#17803d' },
        { label: 'committed p99', color: '#5fb37c' },
      ],
    }),
  };
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
  feed = new WebSocket(url);
  feed.addEventListener('open', () => {
    setStatus('live', 'live');
    chainView.resume();
  });
  feed.addEventListener('message', (event) => onMessage(JSON.parse(event.data)));
  feed.addEventListener('close', () => {
    setStatus('closed', 'disconnected, retrying…');
    setTimeout(() => void start(), RECONNECT_MS);
  });
}

function onMessage(message) {
  if (message.type === 'chain-history' || message.type === 'chain-point') return chainView.onMessage(message);
  if (message.type === 'error') return chainView.onError(message.error);
  if (message.type === 'hello') {
    tickMs = message.tickMs;
    history = message.history;
  } else if (message.type === 'tick') {
    history.push(message.sample);
    history = history.slice(-Math.ceil((WINDOW_SECONDS * 1000) / tickMs));
    for (const decision of message.events) addDecision(decision);
    if (message.eventsDropped > 0) moves.dropped(message.eventsDropped);
  }
  renderLanes($('lanes'), message.lanes, utilisationByName(message.lanes));
  renderAnchors($('anchors'), message.anchors);
  renderChains(message.chains, message.chainsTotal);
  renderFleet(message.fleet);
  renderCharts();
}

function addDecision(decision) {
  if (decision.kind === 'core-move' && Array.isArray(decision.numbers?.utilisation)) utilisation = decision.numbers.utilisation;
  moves.add(decision);
}

function utilisationByName(view) {
  if (utilisation === null) return null;
  return Object.fromEntries((view.lanes ?? []).map((lane, i) => [lane.name, utilisation[i]]));
}

function renderChains(chains, total) {
  $('chains-total').textContent = `(${total}${chains.length < total ? `, busiest ${chains.length} shown` : ''})`;
  const body = clear($('chains').tBodies[0]);
  for (const chain of chains) {
    const open = el('button', { class: 'link', title: 'open its view and its recent entries' }, chain.name);
    open.addEventListener('click', () => openChain(chain.name));
    body.append(
      el(
        'tr',
        { 'data-chain': chain.name },
        el('td', {}, open),
        el('td', { 'data-lane': chain.lane }, chain.lane),
        el('td', {}, String(chain.entriesPerSec)),
        el('td', {}, String(chain.bytesPerSec)),
        el('td', {}, String(chain.nextSeq)),
        el('td', {}, String(chain.committedSeq)),
        el('td', {}, String(chain.height)),
      ),
    );
  }
}

function openChain(name) {
  chainView.open(name, mode === 'authenticated');
  void explorer.openChain(name);
}

function renderCharts() {
  const times = history.map((s) => s.at);
  const column = (key) => history.map((s) => s[key]);
  charts.rate.set(times, [column('acceptedPerSec'), column('committedPerSec')]);
  charts.latency.set(times, [column('acceptedP50Ms'), column('acceptedP99Ms'), column('committedP50Ms'), column('committedP99Ms')]);
  $('uncommitted').textContent = String(history.at(-1)?.uncommitted ?? 0);
}

void start();
