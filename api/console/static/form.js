// Create and edit a task. The spec is checked as it is typed against
// GET /api/v1/next, which shows the next five fire times in the task's
// zone; the options of extra are fields with their defaults shown, and
// the keys of the user's own stay editable as raw JSON.
import { ApiError, call, get } from './api.js';
import { t } from './i18n.js';
import { can, confirmDialog, fail, fill, h, hashQuery, me, toast } from './dom.js';

// The engine's options in extra (README, "Options in extra"): kind and
// default. Defaults marked config come from [scheduler] in common.toml.
const OPTIONS = [
  ['timezone', 'text', ''],
  ['timeout', 'duration', ''],
  ['misfire', ['skip', 'once', 'all'], 'skip'],
  ['misfire_grace', 'duration', '10s'],
  ['misfire_max', 'number', '100'],
  ['overlap', ['forbid', 'replace', 'allow'], 'forbid'],
  ['max_parallel', 'number', ''],
  ['max_retries', 'number', '0'],
  ['retry_backoff', ['fixed', 'exponential'], 'exponential'],
  ['retry_delay', 'duration', '10s'],
  ['retry_max_delay', 'duration', '10m'],
  ['then', 'list', ''],
];
const KNOWN = new Set(OPTIONS.map((o) => o[0]));

export async function render(view, id) {
  const from = id || +hashQuery().get('from') || 0;
  let task = { task_key: '', desc: '', execute_func: '', trigger: 'cron', spec: '', args: '', is_valid: 1, extra: {} };
  let etag = null;
  if (from) {
    try {
      const res = await get(`/api/v1/tasks/${from}`);
      task = res.data;
      etag = res.etag;
    } catch (err) { fail(err); return; }
  }
  const editing = !!id;
  const readOnly = !can('admin');
  const extra = (task.extra && typeof task.extra === 'object') ? task.extra : {};

  const field = (name, input, help) => h('label.field', { dataset: { field: name } },
    h('span.label', {}, name), input, help ? h('span.muted.help', {}, help) : null, h('span.error.msg'));
  const key = h('input', { name: 'task_key', value: editing ? task.task_key : (from ? task.task_key + '_copy' : ''), required: true });
  const desc = h('input', { name: 'desc', value: task.desc });
  const func = h('input', { name: 'execute_func', value: task.execute_func, required: true });
  const trigger = h('select', { name: 'trigger' }, ['cron', 'interval', 'date', 'text'].map((v) => h('option', { value: v }, v)));
  trigger.value = task.trigger;
  const spec = h('input#spec', { name: 'spec', value: task.spec, required: true, autocomplete: 'off' });
  const args = h('input', { name: 'args', value: typeof task.args === 'string' ? task.args : JSON.stringify(task.args) });
  const valid = h('input', { type: 'checkbox', name: 'is_valid', checked: task.is_valid === 1 });
  const preview = h('div#preview.preview');

  const opts = {};
  const optFields = OPTIONS.map(([name, kind, def]) => {
    const cur = extra[name];
    const shown = cur === undefined ? '' : (kind === 'list' ? (Array.isArray(cur) && cur.every((x) => typeof x === 'string') ? cur.join(', ') : JSON.stringify(cur)) : String(cur));
    let input;
    if (Array.isArray(kind)) {
      input = h('select', { name }, h('option', { value: '' }, `(${t('form.default', def)})`), kind.map((v) => h('option', { value: v }, v)));
      input.value = shown;
    } else {
      const defText = def === '' ? (name === 'timezone' ? t('def.app') : t('def.none')) : def;
      input = h('input', { name, value: shown, placeholder: t('form.default', defText), inputmode: kind === 'number' ? 'numeric' : null });
    }
    opts[name] = [input, kind];
    return field(name, input, t('opt.' + name));
  });
  const own = Object.fromEntries(Object.entries(extra).filter(([k]) => !KNOWN.has(k)));
  const raw = h('textarea#own', { name: 'own', rows: 4, spellcheck: 'false' });
  raw.value = Object.keys(own).length ? JSON.stringify(own, null, 2) : '{}';

  const title = editing ? t('form.edit', task.task_key) : from ? t('form.dup', task.task_key) : t('form.new');
  const save = h('button.primary#save', { type: 'submit' }, t('act.save'));
  const del = editing ? h('button.danger#delete', { type: 'button', onclick: () => remove() }, t('act.delete')) : null;
  const formEl = h('form.task', { onsubmit: (e) => { e.preventDefault(); submit(); } },
    h('div.bar', {}, h('h1', {}, title), h('span.grow'),
      editing ? h('a.button', { href: `#/tasks/${id}/runs` }, t('act.history')) : null,
      editing ? h('a.button', { href: `#/audit?task_id=${id}` }, t('act.audit')) : null),
    readOnly ? h('p.muted#readonly', {}, t('tasks.readonly', t('role.' + me.role))) : null,
    h('div.columns', {},
      h('fieldset', {},
        field('task_key', key), field('desc', desc), field('execute_func', func), field('trigger', trigger),
        field('spec', spec), preview,
        field('args', args, t('form.args.help')),
        h('label.check', {}, valid, ' ', t('form.valid'))),
      h('fieldset.options', {}, h('legend', {}, t('form.options')), optFields,
        field('extra', raw, t('form.own')))),
    readOnly ? null : h('div.bar', {}, save, h('span.grow'), del));
  fill(view, formEl);
  if (readOnly) formEl.querySelectorAll('input, select, textarea').forEach((el) => { el.disabled = true; });

  // The preview: debounced, and only the latest answer is drawn.
  let timer, seq = 0;
  const check = () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const n = ++seq;
      const mark = (el) => { if (n === seq) preview.replaceChildren(el); };
      formEl.querySelector('[data-field=spec] .msg').textContent = '';
      if (!spec.value.trim()) { mark(h('span')); return; }
      try {
        const { data } = await get('/api/v1/next', { trigger: trigger.value, spec: spec.value, tz: opts.timezone[0].value.trim(), n: 5 });
        mark(h('div.ok', { dataset: { state: 'ok' } },
          h('div', {}, t('form.applied'), ' ', h('code', {}, data.applied_spec)),
          h('div.muted', {}, t('form.preview', data.timezone)),
          h('ol.times', {}, data.times.map((x) => h('li', {}, x.replace('T', ' '))))));
      } catch (err) {
        mark(h('div.error', { dataset: { state: 'error' } }, err.message));
      }
    }, 250);
  };
  [spec, trigger, opts.timezone[0]].forEach((el) => el.addEventListener('input', check));
  trigger.addEventListener('change', check);
  check();

  function body() {
    let ownObj;
    try {
      ownObj = JSON.parse(raw.value || '{}');
      if (!ownObj || typeof ownObj !== 'object' || Array.isArray(ownObj)) throw new Error();
    } catch {
      throw new ApiError(400, `extra: ${t('form.badjson')}`, { errors: [{ field: 'extra', message: t('form.badjson') }] });
    }
    const ex = {};
    for (const [k, v] of Object.entries(ownObj)) if (!KNOWN.has(k)) ex[k] = v;
    for (const [name, [input, kind]] of Object.entries(opts)) {
      const v = input.value.trim();
      if (v === '') continue;
      if (kind === 'number') ex[name] = /^-?\d+$/.test(v) ? +v : v;
      else if (kind === 'list') ex[name] = v.startsWith('[') ? JSON.parse(v) : v.split(',').map((s) => s.trim()).filter(Boolean);
      else ex[name] = v;
    }
    return { task_key: key.value, desc: desc.value, execute_func: func.value, trigger: trigger.value, spec: spec.value,
      args: args.value, is_valid: valid.checked ? 1 : 0, extra: ex };
  }

  async function submit() {
    formEl.querySelectorAll('.field .msg').forEach((el) => { el.textContent = ''; });
    save.disabled = true;
    try {
      const b = body();
      const res = editing
        ? await call('PATCH', `/api/v1/tasks/${id}`, { body: b, headers: { 'If-Match': etag } })
        : await call('POST', '/api/v1/tasks', { body: b });
      toast(t('form.saved', res.data.task_key) + (res.msg ? ` (${res.msg})` : ''));
      location.hash = `#/tasks/${res.data.id}/runs`;
    } catch (err) {
      if (err.status === 412) { toast(t('form.stale'), true); return; }
      const fields = err.fields || {};
      for (const [f, msg] of Object.entries(fields)) {
        // An option's error names its key: show it beside that field.
        const opt = f === 'extra' && [...KNOWN].find((k) => new RegExp(`\\b${k}\\b`).test(msg));
        const el = formEl.querySelector(`[data-field="${CSS.escape(opt || f)}"] .msg`);
        if (el) el.textContent = msg;
      }
      fail(err);
    } finally { save.disabled = false; }
  }

  async function remove() {
    if (!(await confirmDialog(t('form.confirmdelete', task.task_key)))) return;
    try {
      await call('DELETE', `/api/v1/tasks/${id}`, { headers: { 'If-Match': etag } });
      toast(t('form.deleted', task.task_key));
      location.hash = '#/tasks';
    } catch (err) { fail(err); }
  }
}
