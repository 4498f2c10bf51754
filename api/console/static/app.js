// The console's shell: sign-in, the header, the language switch and the
// hash router (#/overview, #/tasks, #/tasks/new, #/tasks/7/edit,
// #/tasks/7/runs, #/runs/42, #/audit). Each page is a module whose render(view,
// args) draws into <main> and may return a function that stops it.
import { call, setToken, token } from './api.js';
import { lang, setLang, t, translate } from './i18n.js';
import { h, me } from './dom.js';
import * as overview from './overview.js';
import * as tasks from './tasks.js';
import * as form from './form.js';
import * as history from './history.js';
import * as audit from './audit.js';

const view = document.getElementById('view');
let stop = null;

const routes = [
  [/^#\/overview$/, overview.render],
  [/^#\/tasks$/, tasks.render],
  [/^#\/tasks\/new$/, (v) => form.render(v, null)],
  [/^#\/tasks\/(\d+)\/edit$/, (v, id) => form.render(v, +id)],
  [/^#\/tasks\/(\d+)\/runs$/, (v, id) => history.render(v, +id)],
  [/^#\/runs\/(\d+)$/, (v, id) => history.renderRun(v, +id)],
  [/^#\/audit$/, audit.render],
];

// route draws the page of the hash. A newer route supersedes one still
// loading: the older page draws into a detached element, and is stopped.
let seq = 0;
async function route() {
  const n = ++seq;
  if (stop) { stop(); stop = null; }
  translate();
  if (!token()) return signIn();
  if (!me.name && !(await whoami())) return;
  if (n !== seq) return;
  const path = (location.hash || '#/overview').split('?')[0];
  document.querySelectorAll('[data-nav]').forEach((a) => a.classList.toggle('on', path.startsWith('#/' + a.dataset.nav)));
  for (const [re, render] of routes) {
    const m = path.match(re);
    if (m) {
      const page = h('div.page', {}, h('p.muted', {}, t('loading')));
      view.replaceChildren(page);
      const s = (await render(page, ...m.slice(1))) || null;
      if (n === seq) stop = s; else if (s) s();
      return;
    }
  }
  location.hash = '#/overview';
}

// whoami asks the server who the token is; a refused token signs out.
async function whoami() {
  try {
    const { data } = await call('GET', '/api/v1/whoami');
    Object.assign(me, data);
    document.getElementById('whoami').textContent = `${me.name} · ${t('role.' + me.role)}`;
    document.getElementById('top').hidden = false;
    document.body.dataset.role = me.role;
    return true;
  } catch (err) {
    setToken('');
    signIn(err.message);
    return false;
  }
}

function signIn(refused) {
  document.getElementById('top').hidden = true;
  me.name = '';
  const input = h('input#token', { type: 'password', autocomplete: 'current-password', required: true, 'aria-label': t('signin.token') });
  const formEl = h('form.signin', {
    onsubmit: async (e) => {
      e.preventDefault();
      setToken(input.value.trim());
      if (await whoami()) {
        if (!location.hash || location.hash === '#/signin') location.hash = '#/overview'; else route();
      }
    },
  },
  h('h1', {}, 'taskrunner'),
  h('label', {}, t('signin.token'), input),
  h('p.muted', {}, t('signin.help')),
  refused ? h('p.error#signin-error', {}, t('signin.bad', refused)) : null,
  h('button.primary#signin', { type: 'submit' }, t('signin.submit')),
  langSwitch());
  view.replaceChildren(formEl);
  input.focus();
}

function langSwitch() {
  const sel = h('select.lang', { 'aria-label': 'language', onchange: () => { setLang(sel.value); route(); } },
    h('option', { value: 'en' }, 'English'), h('option', { value: 'zh' }, '中文'));
  sel.value = lang();
  return sel;
}

const langSel = document.getElementById('lang');
langSel.value = lang();
langSel.addEventListener('change', () => {
  setLang(langSel.value);
  document.getElementById('whoami').textContent = `${me.name} · ${t('role.' + me.role)}`;
  route();
});
document.getElementById('signout').addEventListener('click', () => {
  setToken('');
  me.name = '';
  if (location.hash !== '#/signin') location.hash = '#/signin'; // hashchange routes
  else route();
});
window.addEventListener('unauthorized', () => { setToken(''); me.name = ''; route(); });
window.addEventListener('hashchange', route);
route();
