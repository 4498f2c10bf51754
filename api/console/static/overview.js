// The overview: runs per hour by status over the last 24 hours (an SVG
// chart drawn here, no library), lateness p50/p99, the failing tasks,
// the latest misfires and lost runs, and the live replicas and workers.
import { get } from './api.js';
import { t } from './i18n.js';
import { ago, badge, fail, fill, fmtMS, h, tail, timeCell } from './dom.js';

// The order of the stacked bars, bottom up, and their colours (also in
// console.css for the badges).
const SERIES = [
  ['success', '#3a9d5d'], ['running', '#3b82c4'], ['skipped', '#9aa5b1'], ['pending', '#c9a227'],
  ['cancelled', '#8a6fb8'], ['killed', '#6f4fa0'], ['queued', '#7aa7d9'], ['interrupted', '#b07d48'], ['missed', '#e08a2c'], ['timeout', '#d9534f'],
  ['failed', '#c0392b'], ['lost', '#7f1d1d'],
];

export async function render(view) {
  let stats, replicas, missed, lost;
  try {
    [stats, replicas, missed, lost] = await Promise.all([
      get('/api/v1/stats/runs', { hours: 24 }), get('/api/v1/replicas'),
      get('/api/v1/runs', { status: 'missed', limit: 10 }), get('/api/v1/runs', { status: 'lost', limit: 10 }),
    ].map((p) => p.then((r) => r.data)));
  } catch (err) { fail(err); return; }
  const lat = stats.lateness;
  const card = (label, value, sub) => h('div.card', {}, h('div.muted', {}, label), h('div.big', {}, value), h('div.muted.small', {}, sub));
  const runList = (items) => items.length === 0 ? h('p.muted', {}, t('none')) : h('table.grid', {},
    h('tbody', {}, items.map((r) => h('tr', {}, h('td', {}, h('a', { href: `#/tasks/${r.task_id}/runs` }, r.task_key)),
      timeCell(r.scheduled_at), h('td', {}, badge(r.status)), h('td.tail', { title: r.error }, tail(r.error, 100))))));
  fill(view,
    h('h1', {}, t('ov.title')),
    h('div.cards', {},
      card(t('ov.p50'), lat.p50_ms === null ? '–' : fmtMS(lat.p50_ms), t('ov.samples', lat.samples)),
      card(t('ov.p99'), lat.p99_ms === null ? '–' : fmtMS(lat.p99_ms), t('ov.samples', lat.samples)),
      card(t('ov.failing'), String(stats.failing_tasks.length), ''),
      card(t('ov.replicas'), String(replicas.length), '')),
    h('section', {}, h('h2', {}, t('ov.chart')), chart(stats.hours)),
    h('div.columns', {},
      h('section', {}, h('h2', {}, t('ov.failing')), stats.failing_tasks.length === 0 ? h('p.muted', {}, t('none')) : h('table.grid#failing', {},
        h('tbody', {}, stats.failing_tasks.map((x) => h('tr', {},
          h('td', {}, h('a', { href: `#/tasks/${x.id}/runs` }, x.task_key)), h('td', {}, badge(x.status), ' ', badge(x.last_status)),
          h('td.tail', { title: x.sched_error || x.last_error }, tail(x.sched_error || x.last_error, 120))))))),
      h('section', {}, h('h2', {}, t('ov.replicas')), h('table.grid#replicas', {},
        h('thead', {}, h('tr', {}, ['kind', 'host', 'version', 'startedat', 'heartbeat'].map((c) => h('th', {}, t('col.' + c))))),
        h('tbody', {}, replicas.map((r) => h('tr', {}, h('td', {}, r.kind), h('td', { title: r.id }, `${r.host} (${r.pid})`),
          h('td', {}, r.version), timeCell(r.started_at), h('td', { title: r.heartbeat_at }, ago(r.heartbeat_at)))))))),
    h('div.columns', {},
      h('section', {}, h('h2', {}, t('ov.misfires')), runList(missed.items)),
      h('section', {}, h('h2', {}, t('ov.lost')), runList(lost.items))));
}

const SVG = 'http://www.w3.org/2000/svg';
function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  el.append(...children);
  return el;
}

// chart draws stacked bars, one per hour, with a legend of the statuses
// that occur; each bar's title lists its counts.
function chart(hours) {
  const W = 960, H = 220, left = 40, bottom = 24, top = 10;
  const total = (c) => Object.values(c).reduce((a, b) => a + b, 0);
  const peak = Math.max(1, ...hours.map((x) => total(x.counts)));
  const bw = (W - left) / hours.length;
  const y = (v) => top + (H - top - bottom) * (1 - v / peak);
  const g = s('g', {});
  for (const frac of [0, 0.5, 1]) {
    const v = Math.round(peak * frac);
    g.append(s('line', { x1: left, x2: W, y1: y(v), y2: y(v), class: 'gridline' }),
      s('text', { x: left - 4, y: y(v) + 4, 'text-anchor': 'end', class: 'axis' }, String(v)));
  }
  hours.forEach((x, i) => {
    let acc = 0;
    const bar = s('g', { class: 'bar' }, s('title', {}, `${x.hour.slice(0, 13).replace('T', ' ')}:00 UTC\n` +
      (Object.entries(x.counts).map(([k, v]) => `${k}: ${v}`).join('\n') || t('ov.nodata'))));
    for (const [name, color] of SERIES) {
      const v = x.counts[name] || 0;
      if (!v) continue;
      bar.append(s('rect', { x: left + i * bw + 1, width: Math.max(1, bw - 2), y: y(acc + v), height: y(acc) - y(acc + v), fill: color, 'data-status': name }));
      acc += v;
    }
    const other = total(x.counts) - acc; // statuses not in SERIES
    if (other > 0) bar.append(s('rect', { x: left + i * bw + 1, width: Math.max(1, bw - 2), y: y(acc + other), height: y(acc) - y(acc + other), fill: '#555' }));
    g.append(bar);
    if (i % 3 === 0) g.append(s('text', { x: left + i * bw + bw / 2, y: H - 6, 'text-anchor': 'middle', class: 'axis' }, x.hour.slice(11, 13)));
  });
  const seen = new Set(hours.flatMap((x) => Object.keys(x.counts)));
  const legend = h('div.legend', {}, SERIES.filter(([n]) => seen.has(n)).map(([n, c]) => h('span', {}, s('svg', { width: 10, height: 10 }, s('rect', { width: 10, height: 10, fill: c })), ' ', n)));
  return h('div.chart', {}, s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': t('ov.chart'), id: 'runs-chart' }, g),
    seen.size ? legend : h('p.muted', {}, t('ov.nodata')));
}
