// app.js - the console's shell: signing in and out, the header and its
// navigation, the router, the status line, and the few helpers every page
// uses, as window.Charter = {api, el, page, go, who, toast, fmtTime,
// countdown}. Plain ES2020, no framework, no build step.
//
// Security rules every page keeps (the Content-Security-Policy enforces part
// of them): no innerHTML/outerHTML/insertAdjacentHTML, no inline script or
// style; the DOM is built with el(), every value from the server is set as
// text; an href or src is never taken from data (el() refuses one that does
// not start with '#' or a single '/').
//
// Pages register themselves with Charter.page(name, {title, roles, nav,
// render}). The router reads location.hash: '#/inbox', '#/decisions?agent=x',
// '#/decision/d-7', '#/charter/diff?from=a&to=b'. It looks for a page named by
// the whole path first ('charter/diff'), then by its first segment, the rest
// handed over as params.id ('decision' with id 'd-7'); the query becomes the
// other params (strings). render(container, params) builds into container
// (empty, already in the document) and may return, or resolve to, a function
// that is called when the page is left (stop a long poll, drop a key
// listener). Pages with `nav: false` are reachable but not in the header.
'use strict';

(() => {
  const state = {
    who: null,       // {name, role, key_id, queues} of the session, or null
    csrf: null,      // the session's CSRF token (memory only, never stored)
    pages: new Map(), // name -> spec, in registration order
    leave: null,     // the current page's cleanup function
    routing: 0,      // bumps on every route, so a late render is dropped
  };

  // ---- DOM ---------------------------------------------------------------
  const SAFE_URL = /^(#|\/(?!\/))/;
  const URL_ATTRS = new Set(['href', 'src', 'action', 'formaction', 'xlink:href', 'srcset']);
  const FORBIDDEN = new Set(['innerHTML', 'outerHTML', 'style', 'srcdoc']);
  const PROPS = new Set(['value', 'checked', 'disabled', 'hidden', 'selected', 'multiple',
    'readOnly', 'required', 'tabIndex', 'type', 'name', 'id', 'title', 'placeholder',
    'autocomplete', 'rows', 'min', 'max', 'step', 'open', 'colSpan', 'alt', 'lang', 'dateTime']);

  // el(tag, attrs, ...children): an element. attrs: 'class' -> className,
  // 'for' -> htmlFor, 'text' -> textContent, 'on<event>' -> a listener (a
  // function only), aria-*/data-*/role/others -> attributes; null,
  // undefined and false are skipped. children: nodes, strings and numbers
  // (text nodes), arrays of them; null/false skipped.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false)
        continue;
      if (FORBIDDEN.has(key))
        throw new Error(`el(): '${key}' is not allowed (build nodes, set text)`);
      if (key.startsWith('on')) {
        if (typeof v !== 'function')
          throw new Error(`el(): ${key} must be a function`);
        node.addEventListener(key.slice(2).toLowerCase(), v);
      } else if (key === 'class') {
        node.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : String(v);
      } else if (key === 'for') {
        node.htmlFor = String(v);
      } else if (key === 'text') {
        node.textContent = String(v);
      } else if (URL_ATTRS.has(key)) {
        const s = String(v);
        if (!SAFE_URL.test(s))
          throw new Error(`el(): ${key} must start with '#' or '/': ${s.slice(0, 40)}`);
        node.setAttribute(key, s);
      } else if (PROPS.has(key)) {
        node[key] = v;
      } else {
        node.setAttribute(key, v === true ? '' : String(v));
      }
    }
    append(node, children);
    return node;
  }

  function append(node, children) {
    for (const c of children) {
      if (c === null || c === undefined || c === false)
        continue;
      if (Array.isArray(c))
        append(node, c);
      else if (c instanceof Node)
        node.appendChild(c);
      else
        node.appendChild(document.createTextNode(String(c)));
    }
  }

  const $ = (sel) => document.querySelector(sel);

  // ---- the status line ---------------------------------------------------
  let toastTimer = null;
  // toast(text, kind): says text in the aria-live status line (kind 'error'
  // shows it as an error); it stays 10 s or until the next one.
  function toast(text, kind) {
    const s = $('[data-testid="status"]');
    if (!s)
      return;
    s.textContent = String(text);
    s.className = kind === 'error' ? 'status error' : 'status';
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { s.textContent = ''; }, 10000);
  }

  // ---- the API -------------------------------------------------------------
  // api(method, path, body, {signal}) -> Promise<{status, body}>: body is the
  // parsed JSON (null when empty; the text when not JSON). A network failure
  // or an abort is status 0 with {error:{code:'network'|'aborted',message}}.
  // A 401 (the session ended: expired, signed out elsewhere, server restarted)
  // shows the sign-in form.
  async function api(method, path, body, opts) {
    const headers = { Accept: 'application/json' };
    const init = { method, credentials: 'same-origin', headers, cache: 'no-store',
      signal: opts && opts.signal };
    if (body !== undefined && body !== null) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    if (method !== 'GET' && method !== 'HEAD' && state.csrf)
      headers['X-CSRF-Token'] = state.csrf;
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      const aborted = e && e.name === 'AbortError';
      return { status: 0, body: { error: { code: aborted ? 'aborted' : 'network',
        message: aborted ? 'cancelled' : 'the server could not be reached' } } };
    }
    const text = await res.text().catch(() => '');
    let parsed = null;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    if (res.status === 401 && path !== '/v1/session' && state.who) {
      state.who = null;
      state.csrf = null;
      showSignIn('Your session ended; sign in again.');
    }
    return { status: res.status, body: parsed };
  }

  // The message of an error answer, for people.
  function errorText(r) {
    const e = r && r.body && r.body.error;
    if (e && e.message)
      return e.code ? `${e.message} (${e.code})` : e.message;
    if (r && r.status)
      return `the server answered ${r.status}`;
    return 'the server could not be reached';
  }

  // ---- time ----------------------------------------------------------------
  const pad = (n) => String(n).padStart(2, '0');
  // fmtTime(iso) -> 'YYYY-MM-DD HH:MM:SS UTC' (the input as is when not a time).
  function fmtTime(iso) {
    if (!iso)
      return '';
    const d = new Date(iso);
    if (Number.isNaN(d.getTime()))
      return String(iso);
    return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
      `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} UTC`;
  }

  function span(ms) {
    let s = Math.floor(Math.abs(ms) / 1000);
    const d = Math.floor(s / 86400); s -= d * 86400;
    const h = Math.floor(s / 3600); s -= h * 3600;
    const m = Math.floor(s / 60); s -= m * 60;
    if (d)
      return `${d}d ${h}h ${pad(m)}m`;
    if (h)
      return `${h}h ${pad(m)}m ${pad(s)}s`;
    return m ? `${m}m ${pad(s)}s` : `${s}s`;
  }

  function tick(node) {
    const ms = Date.parse(node.dateTime) - Date.now();
    node.textContent = Number.isNaN(ms) ? 'no deadline'
      : ms > 0 ? `in ${span(ms)}` : `passed ${span(ms)} ago`;
    node.classList.toggle('due', ms < 5 * 60 * 1000);
  }

  // countdown(deadline) -> a <time> element reading 'in 3h 59m 12s' (or
  // 'passed 5s ago'), kept current by one timer for the whole page; its
  // title is the deadline itself.
  function countdown(deadline) {
    const t = el('time', { class: 'countdown', 'data-countdown': '', dateTime: deadline || '',
      title: deadline ? fmtTime(deadline) : 'no deadline' });
    t.dateTime = deadline || '';
    tick(t);
    return t;
  }
  setInterval(() => {
    for (const t of document.querySelectorAll('time[data-countdown]'))
      tick(t);
  }, 1000);

  // ---- pages and the router ----------------------------------------------------
  // page(name, {title, roles: ['approver','admin','auditor'], nav: true,
  //             render(container, params)})
  function page(name, spec) {
    state.pages.set(name, Object.assign({ name, nav: true, roles: [] }, spec));
    if (state.who)
      renderNav();
  }

  function go(hash) {
    const h = hash.startsWith('#') ? hash : `#${hash}`;
    if (location.hash === h)
      route();
    else
      location.hash = h;
  }

  const who = () => state.who;

  const allowed = (p) => state.who && p.roles.includes(state.who.role);

  function firstPage() {
    for (const p of state.pages.values())
      if (p.nav && allowed(p))
        return p.name;
    return null;
  }

  function parseHash() {
    const raw = location.hash.startsWith('#/') ? location.hash.slice(2) : '';
    const q = raw.indexOf('?');
    const path = decodeURIComponent(q < 0 ? raw : raw.slice(0, q));
    const params = {};
    if (q >= 0)
      for (const [k, v] of new URLSearchParams(raw.slice(q + 1)))
        params[k] = v;
    let spec = state.pages.get(path);
    if (!spec && path.includes('/')) {
      const cut = path.indexOf('/');
      spec = state.pages.get(path.slice(0, cut));
      if (spec)
        params.id = path.slice(cut + 1);
    }
    return { path, spec, params };
  }

  function renderNav() {
    const nav = $('[data-testid="nav"]');
    const { spec } = parseHash();
    const links = [];
    for (const p of state.pages.values()) {
      if (!p.nav || !allowed(p))
        continue;
      links.push(el('a', { href: `#/${p.name}`, 'data-testid': `nav-${p.name}`,
        'aria-current': spec && spec.name === p.name ? 'page' : null }, p.title || p.name));
    }
    nav.replaceChildren(...links);
  }

  async function route() {
    if (!state.who)
      return;
    if (!location.hash.startsWith('#/')) {
      const first = firstPage();
      if (first)
        location.replace(`#/${first}`);
      return;
    }
    const { path, spec, params } = parseHash();
    leavePage();
    const n = ++state.routing;
    renderNav();
    const main = $('#main');
    main.replaceChildren();
    if (!spec) {
      main.append(el('h1', {}, 'Not found'),
        el('p', {}, `There is no page '${path}'.`));
      document.title = 'Not found · Charter console';
      return;
    }
    if (!allowed(spec)) {
      main.append(el('h1', {}, spec.title || spec.name),
        el('p', {}, `A ${state.who.role} key may not use this page.`));
      document.title = `${spec.title || spec.name} · Charter console`;
      return;
    }
    document.title = `${spec.title || spec.name} · Charter console`;
    const box = el('div', { class: 'page', 'data-page': spec.name });
    main.append(box);
    try {
      const leave = await spec.render(box, params);
      if (n !== state.routing) { // left while rendering
        if (typeof leave === 'function')
          leave();
      } else if (typeof leave === 'function') {
        state.leave = leave;
      }
    } catch (e) {
      box.append(el('p', { class: 'error', role: 'alert' }, `This page failed: ${e.message}`));
    }
  }

  function leavePage() {
    const f = state.leave;
    state.leave = null;
    if (f) {
      try {
        f();
      } catch {
        // a page's cleanup failing must not stop the next page
      }
    }
  }

  // ---- signing in and out ------------------------------------------------------
  function signedIn(body) {
    state.who = body.who;
    state.csrf = body.csrf;
    const w = body.who;
    $('[data-testid="who"]').replaceChildren(
      el('span', { class: 'who-name', 'data-testid': 'who-name' }, w.name),
      ' ', el('span', { class: 'role', 'data-testid': 'who-role' }, w.role));
    $('[data-testid="signout"]').hidden = false;
    document.body.classList.add('signed-in');
    route();
  }

  function showSignIn(message) {
    leavePage();
    state.routing++;
    $('[data-testid="who"]').replaceChildren();
    $('[data-testid="nav"]').replaceChildren();
    $('[data-testid="signout"]').hidden = true;
    document.body.classList.remove('signed-in');
    document.title = 'Sign in · Charter console';
    const token = el('input', { type: 'password', id: 'signin-token', name: 'token',
      autocomplete: 'off', required: true, spellcheck: 'false',
      'aria-describedby': 'signin-help', 'data-testid': 'signin-token' });
    const err = el('p', { class: 'error', role: 'alert', 'data-testid': 'signin-error' },
      message || '');
    const button = el('button', { type: 'submit', class: 'primary',
      'data-testid': 'signin-submit' }, 'Sign in');
    const form = el('form', { class: 'signin', 'data-testid': 'signin-form',
      onsubmit: async (ev) => {
        ev.preventDefault();
        const value = token.value.trim();
        if (!value) {
          err.textContent = 'Paste your access token first.';
          token.focus();
          return;
        }
        button.disabled = true;
        const r = await api('POST', '/v1/session', { token: value });
        button.disabled = false;
        if (r.status === 200 && r.body && r.body.who) {
          token.value = '';
          toast(`Signed in as ${r.body.who.name}.`);
          signedIn(r.body);
          $('#main').focus(); // the keyboard starts on the page, not lost on a removed form
        } else {
          err.textContent = r.status === 401
            ? 'This token is not known here (mistyped, revoked, or from another server).'
            : `Not signed in: ${errorText(r)}`;
          token.select();
          token.focus();
        }
      } },
    el('h1', {}, 'Sign in'),
    el('label', { for: 'signin-token' }, 'Access token'),
    token,
    el('p', { id: 'signin-help', class: 'help' },
      'Your approver, auditor or admin token from charter keys (it starts with chk_). ' +
      'It is sent once to open a session; the page keeps only a session cookie ' +
      'that expires after 8 hours or when you sign out.'),
    button, err);
    $('#main').replaceChildren(form);
    token.focus();
  }

  async function signOut() {
    const r = await api('DELETE', '/v1/session');
    if (r.status === 204 || r.status === 401 || r.status === 200) {
      state.who = null;
      state.csrf = null;
      history.replaceState(null, '', location.pathname);
      showSignIn();
      toast('Signed out.');
    } else {
      toast(`Not signed out: ${errorText(r)}`, 'error');
    }
  }

  async function start() {
    $('[data-testid="signout"]').addEventListener('click', signOut);
    const skip = $('.skip');
    if (skip)
      skip.addEventListener('click', (ev) => { ev.preventDefault(); $('#main').focus(); });
    window.addEventListener('hashchange', () => {
      if (location.hash.startsWith('#/') || location.hash === '')
        route();
    });
    const r = await api('GET', '/v1/session');
    if (r.status === 200 && r.body && r.body.who)
      signedIn(r.body);
    else
      showSignIn(r.status === 0 ? 'The server could not be reached.' : '');
  }

  window.Charter = Object.freeze({ api, el, page, go, who, toast, fmtTime, countdown,
    errorText });
  // Pages register in the scripts after this one (all deferred, run in
  // order); start once they all have.
  document.addEventListener('DOMContentLoaded', start);
})();
