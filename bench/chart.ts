// A dependency-free SVG of throughput and p99 latency over time, one line per
// run: enough to see warm-up effects, stalls and a flood's impact at a glance.

export interface ChartPoint {
  t: number;
  entriesPerSec: number;
  p99Us: number | null;
}

export interface ChartSeries {
  label: string;
  points: ChartPoint[];
}

const W = 900;
const PANEL_H = 220;
const M = { left: 80, right: 180, top: 90, gap: 60, bottom: 40 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A "nice" upper bound for an axis (1, 2 or 5 × a power of ten). */
function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  const m = v / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

function shortNum(v: number): string {
  if (v >= 1e6) return `${+(v / 1e6).toFixed(1)}M`;
  if (v >= 1e3) return `${+(v / 1e3).toFixed(1)}k`;
  return `${+v.toFixed(1)}`;
}

interface Panel {
  title: string;
  top: number;
  yMax: number;
  tMax: number;
  value: (p: ChartPoint) => number | null;
  yLabel: (v: number) => string;
}

function panel(series: readonly ChartSeries[], p: Panel): string {
  const plotW = W - M.left - M.right;
  const x = (t: number): number => M.left + (t / p.tMax) * plotW;
  const y = (v: number): number => p.top + PANEL_H - (Math.min(v, p.yMax) / p.yMax) * PANEL_H;
  const out = [`<text x="${M.left}" y="${p.top - 10}" font-weight="bold">${esc(p.title)}</text>`];
  for (let i = 0; i <= 4; i++) {
    const v = (p.yMax * i) / 4;
    out.push(`<line x1="${M.left}" x2="${M.left + plotW}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`);
    out.push(`<text x="${M.left - 6}" y="${y(v) + 4}" text-anchor="end">${esc(p.yLabel(v))}</text>`);
  }
  series.forEach((s, i) => {
    const pts = s.points.flatMap((pt) => {
      const v = p.value(pt);
      return v === null ? [] : [`${x(pt.t).toFixed(1)},${y(v).toFixed(1)}`];
    });
    if (pts.length > 0) out.push(`<polyline fill="none" stroke-width="2" stroke="${COLORS[i % COLORS.length]}" points="${pts.join(' ')}"/>`);
  });
  return out.join('\n');
}

export interface ChartText {
  title: string;
  /** Up to two short lines under the title. */
  subtitle?: string[];
  latencyTitle?: string;
}

export function renderChart(text: ChartText, series: readonly ChartSeries[]): string {
  const all = series.flatMap((s) => s.points);
  const tMax = Math.max(1, ...all.map((p) => p.t));
  const rateMax = niceMax(Math.max(0, ...all.map((p) => p.entriesPerSec)));
  const p99Max = niceMax(Math.max(0, ...all.map((p) => p.p99Us ?? 0)) / 1000);
  const top2 = M.top + PANEL_H + M.gap;
  const height = top2 + PANEL_H + M.bottom;
  const plotW = W - M.left - M.right;
  const legend = series.map((s, i) => {
    const ly = M.top + i * 22;
    const lx = W - M.right + 20;
    return `<rect x="${lx}" y="${ly - 10}" width="14" height="4" fill="${COLORS[i % COLORS.length]}"/><text x="${lx + 20}" y="${ly}">${esc(s.label)}</text>`;
  });
  const ticks = Array.from({ length: 6 }, (_, i) => (tMax * i) / 5).map(
    (t) => `<text x="${M.left + (t / tMax) * plotW}" y="${height - 15}" text-anchor="middle">${t.toFixed(1)} s</text>`,
  );
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${M.left}" y="22" font-size="15" font-weight="bold">${esc(text.title)}</text>`,
    ...(text.subtitle ?? []).slice(0, 2).map((line, i) => `<text x="${M.left}" y="${42 + i * 16}" fill="#555">${esc(line)}</text>`),
    panel(series, { title: 'accepted entries/s', top: M.top, yMax: rateMax, tMax, value: (p) => p.entriesPerSec, yLabel: shortNum }),
    panel(series, {
      title: text.latencyTitle ?? 'p99 send → accepted (ms)',
      top: top2,
      yMax: p99Max,
      tMax,
      value: (p) => (p.p99Us === null ? null : p.p99Us / 1000),
      yLabel: shortNum,
    }),
    ...legend,
    ...ticks,
    '</svg>',
  ].join('\n');
}
