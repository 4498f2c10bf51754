// A task's history: its runs newest first (the fire key's order), with
// a status filter, each run's output and attempts on a click, kill for a
// running run, and a backfill previewed by a dry run first.
import { call, get } from './api.js';
import { t } from './i18n.js';
import { ago, badge, can, fail, fill, fmtMS, fmtTime, h, hashQuery, tail, timeCell, toast } from './dom.js';

const STATUSES = ['queued', 'running', 'success', 'failed', 'timeout', 'skipped', 'missed', 'pending', 'cancelled', 'killed', 'interrupted', 'lost'];

export async function render(view, id) {
  let task;
  try { task = (await get(`/api/v1/tasks/${id}`)).data; } catch (err) { fail(err); return; }
  const status = h('select#status-filter', { 'aria-label': 'status' },
    h('option', { value: '' }, `${t('col.status')}: ${t('all')}`), STATUSES.map((s) => h('option', { value: s }, s)));
  status.value = hashQuery().get('status') || '';
  const auto = h('input#auto', { type: 'checkbox', checked: true });
  const tbody = h('tbody');
  const table = h('table#runs.grid', {},
    h('thead', {}, h('tr', {}, ['id', 'status', 'scheduled', 'started', 'lateness', 'duration', 'attempt', 'trace', 'owner', 'error', 'actions']
      .map((c) => h('th', {}, t('col.' + c))))), tbody);
  const more = h('button#more', { hidden: true, onclick: () => load(false) }, t('more'));
  let cursor = '';
  let open = null; // the run whose details are shown: refreshing waits

  const load = async (fresh) => {
    try {
      const { data } = await get('/api/v1/runs', { task_id: id, status: status.value, limit: 100, cursor: fresh ? '' : cursor });
      const rows = data.items.map((r) => runRow(r, () => load(true), show));
      if (fresh) tbody.replaceChildren(...rows); else tbody.append(...rows);
      cursor = data.next_cursor;
      more.hidden = !cursor;
      table.dataset.rows = tbody.querySelectorAll('tr.run').length;
    } catch (err) { fail(err); }
  };
  const show = async (tr, run) => {
    const next = tr.nextElementSibling;
    if (next && next.classList.contains('detail')) { next.remove(); open = null; return; }
    open = run.id;
    try {
      const { data } = await get(`/api/v1/runs/${run.id}`, { tail: 4096 });
      tr.after(h('tr.detail', {}, h('td', { colspan: 11 },
        data.run.output ? [h('h3', {}, t('hist.output')), h('pre', {}, data.run.output)] : null,
        data.run.error ? [h('h3', {}, t('hist.errortext')), h('pre.error', {}, data.run.error)] : null,
        data.attempts.length > 1 ? [h('h3', {}, t('hist.attempts')),
          h('ul', {}, data.attempts.map((a) => h('li', {}, `#${a.id} `, badge(a.status), ` ${t('col.attempt')} ${a.attempt} · ${fmtTime(a.started_at)} · ${tail(a.error, 100)}`)))] : null)));
    } catch (err) { fail(err); }
  };
  status.addEventListener('change', () => { location.replace(`#/tasks/${id}/runs${status.value ? '?status=' + status.value : ''}`); });

  fill(view,
    h('div.bar', {},
      h('h1', {}, t('hist.title', task.task_key)), badge(task.status),
      h('span.muted', {}, task.applied_spec || `${task.trigger} ${task.spec}`),
      h('span.grow'),
      can('operate') ? h('button#run-now', { onclick: async () => {
        try { const { data } = await call('POST', `/api/v1/tasks/${id}/trigger`); toast(t('tasks.ran', data)); load(true); } catch (err) { fail(err); }
      } }, t('act.run')) : null,
      can('admin') ? h('a.button', { href: `#/tasks/${id}/edit`, dataset: { act: 'edit' } }, t('act.edit')) : null,
      h('a.button', { href: `#/audit?task_id=${id}` }, t('act.audit'))),
    task.sched_error ? h('p.error', {}, task.sched_error) : null,
    h('div.bar', {}, status, h('button', { onclick: () => load(true) }, t('refresh')), h('label.check', {}, auto, ' ', t('auto'))),
    table, more,
    can('operate') ? backfill(id) : null);
  await load(true);
  const timer = setInterval(() => { if (auto.checked && open === null && !document.hidden) load(true); }, 2000);
  return () => clearInterval(timer);
}

function runRow(r, reload, show) {
  const late = r.scheduled_at && r.started_at ? new Date(r.started_at) - new Date(r.scheduled_at) : null;
  const text = r.error || '';
  const tr = h('tr.run', { dataset: { id: r.id, status: r.status } },
    h('td', {}, h('a', { href: '#', onclick: (e) => { e.preventDefault(); show(tr, r); } }, `#${r.id}`)),
    h('td', {}, badge(r.status), r.source && r.source !== 'schedule' ? h('div.muted.small', {}, r.source) : null),
    timeCell(r.scheduled_at),
    h('td.time', { title: r.started_at || '' }, fmtTime(r.started_at), r.status === 'running' && r.started_at ? h('div.muted.small', {}, ago(r.started_at)) : null),
    h('td.num', {}, late === null ? '' : fmtMS(late)),
    h('td.num', {}, fmtMS(r.duration_ms)),
    h('td.num', {}, r.attempt),
    h('td', {}, h('code.trace', { title: r.trace_id }, r.trace_id.slice(0, 8))),
    h('td.small', { title: r.host }, r.owner ? r.owner.slice(0, 8) : '', h('div.muted', {}, r.host)),
    h('td.tail', { title: text }, tail(text.split('\n').filter(Boolean).pop() || '', 120)),
    h('td', {}, r.status === 'running' && can('operate') ? h('button.small.danger', { dataset: { act: 'kill' }, onclick: async () => {
      try { await call('POST', `/api/v1/runs/${r.id}/kill`); toast(t('hist.killed', r.id)); reload(); } catch (err) { fail(err); }
    } }, t('act.kill')) : null));
  return tr;
}

// backfill: from and to (local time inputs), a dry run listing the fire
// times and which ran, then the real one.
function backfill(id) {
  const local = (d) => new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  const now = new Date();
  const from = h('input#bf-from', { type: 'datetime-local', value: local(new Date(now - 3600000)) });
  const to = h('input#bf-to', { type: 'datetime-local', value: local(now) });
  const out = h('div#bf-plan');
  const q = () => ({ from: new Date(from.value).toISOString().replace(/\.\d+Z$/, 'Z'), to: new Date(to.value).toISOString().replace(/\.\d+Z$/, 'Z') });
  const runBtn = h('button.danger#bf-run', { hidden: true, onclick: async () => {
    try {
      const { data } = await call('POST', `/api/v1/tasks/${id}/backfill`, { query: q() });
      toast(t('hist.started', data.pending));
      runBtn.hidden = true;
    } catch (err) { fail(err); }
  } }, t('act.runbackfill'));
  const preview = async () => {
    try {
      const { data } = await call('POST', `/api/v1/tasks/${id}/backfill`, { query: { ...q(), dry_run: 'true' } });
      const times = data.times || [];
      fill(out, h('p', {}, t('hist.plan', times.length, data.pending)),
        h('ol.times', {}, times.slice(0, 50).map((x, i) => h('li', {}, fmtTime(x), data.done[i] ? h('span.muted', {}, ` · ${t('hist.done')}`) : null))),
        times.length > 50 ? h('p.muted', {}, '…') : null);
      runBtn.hidden = !data.pending;
    } catch (err) { out.replaceChildren(h('p.error', {}, err.message)); runBtn.hidden = true; }
  };
  return h('details.backfill', {}, h('summary', {}, t('act.backfill')),
    h('div.bar', {}, h('label', {}, t('hist.from'), ' ', from), h('label', {}, t('hist.to'), ' ', to),
      h('button#bf-preview', { onclick: preview }, t('act.preview')), runBtn), out);
}

// renderRun draws one run (#/runs/<id>, where an alert's link points):
// its status and times, output and error tails, its attempts, and a link
// to its task's history.
export async function renderRun(view, id) {
  try {
    const { data } = await get(`/api/v1/runs/${id}`, { tail: 4096 });
    const r = data.run;
    fill(view,
      h('h2', {}, `#${r.id} `, h('a', { href: `#/tasks/${r.task_id}/runs` }, r.task_key), ' ', badge(r.status)),
      h('p.muted', {}, `${r.source} · ${t('col.attempt')} ${r.attempt} · ${fmtTime(r.scheduled_at)} → ${fmtTime(r.started_at)} · ${fmtMS(r.duration_ms)} · ${r.trace_id} · ${r.owner || ''} ${r.host || ''}`),
      r.output ? [h('h3', {}, t('hist.output')), h('pre', {}, r.output)] : null,
      r.error ? [h('h3', {}, t('hist.errortext')), h('pre.error', {}, r.error)] : null,
      data.attempts.length > 1 ? [h('h3', {}, t('hist.attempts')),
        h('ul', {}, data.attempts.map((a) => h('li', {}, h('a', { href: `#/runs/${a.id}` }, `#${a.id}`), ' ', badge(a.status), ` ${t('col.attempt')} ${a.attempt} · ${fmtTime(a.started_at)} · ${tail(a.error, 100)}`)))] : null);
  } catch (err) { fail(err); }
}
