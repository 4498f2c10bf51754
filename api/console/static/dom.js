// Small helpers shared by the pages: building elements (text is always
// set as text, never parsed as HTML), formatting times and durations,
// the toast, the confirmation dialog and the signed-in user's role.
import { t } from './i18n.js';

// h('tag.class#id', {attr: v, onclick: fn}, ...children)
export function h(sel, attrs, ...children) {
  const [, tag, rest] = sel.match(/^([a-z0-9]+)(.*)$/i);
  const el = document.createElement(tag);
  for (const m of rest.matchAll(/([.#])([\w-]+)/g)) {
    if (m[1] === '.') el.classList.add(m[2]); else el.id = m[2];
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = !!v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}

// fill replaces el's children, skipping null, undefined and false as h does.
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

const pad = (n, w = 2) => String(n).padStart(w, '0');

// fmtTime is an instant in the browser's zone, "2026-11-30 12:00:05".
export function fmtTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

// timeCell shows an instant with its UTC form on hover.
export const timeCell = (iso) => h('td.time', { title: iso || '' }, fmtTime(iso));

// fmtMS is a duration in milliseconds, "850 ms", "12.5 s", "3 m 20 s".
export function fmtMS(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)} m ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} m`;
}

export function ago(iso) { return iso ? t('ago', fmtMS(Math.max(0, Date.now() - new Date(iso)))) : ''; }

export const badge = (status) => status ? h('span.badge', { dataset: { status } }, status) : '';

// tail is the last n characters of s.
export function tail(s, n = 160) {
  s = (s || '').trimEnd();
  return s.length > n ? '…' + s.slice(-n) : s;
}

let toastTimer;
export function toast(msg, isError) {
  const el = document.getElementById('toast');
  el.textContent = msg;
  el.classList.toggle('error', !!isError);
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, isError ? 8000 : 3000);
}

export const fail = (err) => toast(t('error', err.message || err), true);

// confirmDialog asks in a modal dialog and resolves true on Confirm.
export function confirmDialog(text) {
  const dlg = document.getElementById('confirm');
  document.getElementById('confirm-text').textContent = text;
  return new Promise((resolve) => {
    dlg.addEventListener('close', () => resolve(dlg.returnValue === 'ok'), { once: true });
    dlg.returnValue = '';
    dlg.showModal();
  });
}

// The signed-in user, {name, role}, set by the app after whoami.
export const me = { name: '', role: 'read' };
const rank = { read: 1, operate: 2, admin: 3 };
export const can = (role) => (rank[me.role] || 0) >= rank[role];

// param reads a query parameter of the hash route (#/x?a=1).
export function hashQuery() {
  const i = location.hash.indexOf('?');
  return new URLSearchParams(i < 0 ? '' : location.hash.slice(i + 1));
}
