// The audit log: who changed which task definition, when, from where,
// with the columns that changed; of one task (#/audit?task_id=7) or all.
import { get } from './api.js';
import { t } from './i18n.js';
import { fail, fill, h, hashQuery, timeCell } from './dom.js';

export async function render(view) {
  const taskID = hashQuery().get('task_id') || '';
  const tbody = h('tbody');
  const more = h('button#more', { hidden: true, onclick: () => load() }, t('more'));
  let cursor = '';
  const load = async () => {
    try {
      const { data } = await get('/api/v1/audit', { task_id: taskID, limit: 100, cursor });
      tbody.append(...data.items.map(row));
      cursor = data.next_cursor;
      more.hidden = !cursor;
    } catch (err) { fail(err); }
  };
  fill(view,
    h('div.bar', {}, h('h1', {}, taskID ? t('audit.task', taskID) : t('audit.title')), h('span.grow'),
      taskID ? h('a.button', { href: '#/audit' }, t('audit.all')) : null,
      taskID ? h('a.button', { href: `#/tasks/${taskID}/runs` }, t('act.history')) : null),
    h('table#audit.grid', {}, h('thead', {}, h('tr', {}, ['at', 'actor', 'remote', 'action', 'task', 'change'].map((c) => h('th', {}, t('col.' + c))))), tbody),
    more);
  await load();
}

function row(a) {
  return h('tr', { dataset: { action: a.action } },
    timeCell(a.at),
    h('td', {}, a.actor, h('div.muted.small', {}, a.source)),
    h('td', {}, a.remote),
    h('td', {}, h('span.badge', { dataset: { status: a.action } }, a.action)),
    h('td', {}, h('a', { href: `#/audit?task_id=${a.task_id}` }, a.task_key || `#${a.task_id}`)),
    h('td.change', {}, diff(a.before, a.after)));
}

// diff lists the columns whose value differs, before → after.
function diff(before, after) {
  const b = before || {}, a = after || {};
  const keys = [...new Set([...Object.keys(b), ...Object.keys(a)])];
  const show = (v) => v === undefined ? '∅' : typeof v === 'string' ? v : JSON.stringify(v);
  const changed = keys.filter((k) => show(b[k]) !== show(a[k]));
  if (!before || !after) {
    const obj = after || before;
    return h('code.small', {}, ['trigger', 'spec', 'execute_func'].map((k) => `${k}=${show(obj[k])}`).join(' '));
  }
  return h('ul.diff', {}, changed.map((k) => h('li', {}, h('b', {}, k), ': ', h('del', {}, show(b[k])), ' → ', h('ins', {}, show(a[k])))));
}
