// The tasks page: the task table with search and filters; enable or
// disable, run now, edit, duplicate, history. Pages of 1,000 rows (the
// API's largest), in id order; the search narrows the rows loaded.
import { call, get } from './api.js';
import { t } from './i18n.js';
import { badge, can, fail, fill, h, hashQuery, me, timeCell, toast } from './dom.js';

const PAGE = 1000;

export async function render(view) {
  const q = hashQuery();
  const state = { rows: [], cursor: '', filters: { trigger: q.get('trigger') || '', enabled: q.get('enabled') || '', status: q.get('status') || '' } };
  const search = h('input#search', { type: 'search', placeholder: t('search'), value: q.get('q') || '' });
  const select = (name, values) => {
    const s = h('select', { name, 'aria-label': name },
      h('option', { value: '' }, `${t('col.' + (name === 'enabled' ? 'enabled' : name))}: ${t('all')}`),
      values.map((v) => h('option', { value: v }, v)));
    s.value = state.filters[name];
    s.addEventListener('change', () => { state.filters[name] = s.value; reload(); });
    return s;
  };
  const count = h('span.muted#count');
  const tbody = h('tbody');
  const table = h('table#tasks.grid', {},
    h('thead', {}, h('tr', {}, ['key', 'desc', 'trigger', 'spec', 'enabled', 'next', 'last', 'actions'].map((c) => h('th', {}, t('col.' + c))))),
    tbody);
  const more = h('button#more', { hidden: true, onclick: () => load() }, t('more'));
  fill(view,
    h('div.bar', {},
      h('h1', {}, t('tasks.title')),
      search,
      select('trigger', ['cron', 'interval', 'date', 'text']),
      select('enabled', ['true', 'false']),
      select('status', ['ready', 'doing', 'error', 'disabled', 'done']),
      h('span.grow'),
      can('admin') ? h('a.button.primary#new', { href: '#/tasks/new' }, t('act.new')) : null),
    me.role === 'read' ? h('p.muted#readonly', {}, t('tasks.readonly', t('role.read'))) : null,
    table, more, count);

  const matches = (task) => {
    const s = search.value.trim().toLowerCase();
    return !s || [task.task_key, task.desc, task.execute_func, task.spec].some((v) => (v || '').toLowerCase().includes(s));
  };
  const draw = () => {
    const frag = document.createDocumentFragment();
    let n = 0;
    for (const task of state.rows) {
      if (!matches(task)) continue;
      frag.append(row(task, refresh));
      n++;
    }
    tbody.replaceChildren(frag);
    count.textContent = t('tasks.count', n);
    more.hidden = !state.cursor;
    table.dataset.rows = n;
    // The time from navigation to the table drawn, read by the browser test.
    requestAnimationFrame(() => { window.tasksDrawnMS = performance.now(); table.dataset.drawn = '1'; });
  };
  const load = async () => {
    try {
      const { data } = await get('/api/v1/tasks', { ...state.filters, limit: PAGE, cursor: state.cursor });
      state.rows.push(...data.items);
      state.cursor = data.next_cursor;
      draw();
    } catch (err) { fail(err); }
  };
  const reload = () => { state.rows = []; state.cursor = ''; return load(); };
  // refresh replaces one row after an action.
  const refresh = async (id) => {
    const { data } = await get(`/api/v1/tasks/${id}`);
    const i = state.rows.findIndex((r) => r.id === id);
    if (i >= 0) state.rows[i] = data;
    draw();
  };
  search.addEventListener('input', draw);
  await load();
}

function row(task, refresh) {
  const act = (label, name, fn) => h('button.small', { dataset: { act: name }, onclick: async (e) => {
    e.target.disabled = true;
    try { await fn(); } catch (err) { fail(err); } finally { e.target.disabled = false; }
  } }, label);
  const actions = [h('a.button.small', { href: `#/tasks/${task.id}/runs`, dataset: { act: 'history' } }, t('act.history'))];
  if (can('operate')) {
    actions.push(act(t('act.run'), 'run', async () => {
      const { data } = await call('POST', `/api/v1/tasks/${task.id}/trigger`);
      toast(t('tasks.ran', data));
    }));
    actions.push(task.is_valid
      ? act(t('act.disable'), 'disable', async () => { await call('POST', `/api/v1/tasks/${task.id}/disable`); toast(t('tasks.disabled', task.task_key)); await refresh(task.id); })
      : act(t('act.enable'), 'enable', async () => { await call('POST', `/api/v1/tasks/${task.id}/enable`); toast(t('tasks.enabled', task.task_key)); await refresh(task.id); }));
  }
  if (can('admin')) {
    actions.push(h('a.button.small', { href: `#/tasks/${task.id}/edit`, dataset: { act: 'edit' } }, t('act.edit')));
    actions.push(h('a.button.small', { href: `#/tasks/new?from=${task.id}`, dataset: { act: 'duplicate' } }, t('act.dup')));
  }
  const spec = [h('code', {}, task.spec)];
  if (task.applied_spec && (task.trigger === 'text' || task.applied_spec !== `${task.trigger} ${task.spec}`)) {
    spec.push(h('div.muted.applied', {}, '→ ', task.applied_spec));
  }
  if (task.sched_error) spec.push(h('div.error.sched', {}, task.sched_error));
  return h('tr', { dataset: { id: task.id, key: task.task_key, status: task.status } },
    h('td', {}, h('a.key', { href: `#/tasks/${task.id}/runs` }, task.task_key), h('div.muted', {}, task.execute_func)),
    h('td.desc', {}, task.desc),
    h('td', {}, task.trigger),
    h('td.spec', {}, spec),
    h('td', {}, h('span.enabled', { dataset: { on: task.is_valid ? '1' : '0' } }, task.is_valid ? t('yes') : t('no')), ' ', badge(task.status)),
    timeCell(task.next_fire_at),
    h('td', {}, h('div.when', { title: task.last_fire_at || '' }, task.last_fire_at ? timeCell(task.last_fire_at).textContent : ''),
      badge(task.last_status), task.last_error ? h('div.error.small', { title: task.last_error }, task.last_error.split('\n')[0].slice(0, 80)) : null),
    h('td.actions', {}, actions));
}
