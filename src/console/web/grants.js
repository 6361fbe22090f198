// grants.js - the Standing approvals page ('#/grants', '#/grants?all=1'):
// the approvals someone gave for "this and the same kind for the next N
// hours" (POST /v1/escalations/{id}/grant, from the inbox), each with its
// exact scope (queue, agent, workflow, action, rule), who gave it and when,
// when it expires, what it approved so far against its caps, and a Revoke
// button that asks for a note (POST /v1/grants/{id}/revoke).
//
// GET /v1/grants?active=1 lists the active ones (an approver: those of its
// queues; admin and auditor: all); '?all=1' lists expired and revoked ones
// too. Approvers and admins revoke; an auditor reads. The list is read again
// every 15 s (its counts change as grants approve), except while a revoke
// form is open. Every value is set as text.
'use strict';

(() => {
  const C = window.Charter;
  const { el } = C;
  const REFRESH = 15000; // ms between reads of the list

  const show = (v) => (v === null || v === undefined ? '' : String(v));
  const num = (v) => (typeof v === 'number' ? String(Math.round(v * 100) / 100) : show(v));

  function ensureCss() {
    if (!document.querySelector('link[data-pages-css]'))
      document.head.append(el('link', { rel: 'stylesheet', href: '/console/pages.css',
        'data-pages-css': '' }));
  }

  // 'used 2 of 5' / 'used 2, no cap'.
  function used(n, cap, what) {
    const has = typeof cap === 'number' && cap > 0;
    return `${num(n || 0)}${has ? ` of ${num(cap)}` : ''} ${what}${has ? '' : ' (no cap)'}`;
  }

  function state(g) {
    if (g.revoked)
      return el('span', { class: 'tag denied', 'data-testid': 'grants-state' },
        `revoked${g.revoked_by ? ` by ${g.revoked_by}` : ''}${g.revoked_at ? ` at ${C.fmtTime(g.revoked_at)}` : ''}`);
    if (g.active === false)
      return el('span', { class: 'tag', 'data-testid': 'grants-state' },
        Date.parse(g.expires) <= Date.now() ? 'expired' : 'used up');
    return el('span', { class: 'tag approved', 'data-testid': 'grants-state' }, 'active');
  }

  async function renderGrants(box, params) {
    ensureCss();
    const me = C.who();
    const canRevoke = me.role === 'approver' || me.role === 'admin';
    const all = params.all === '1';
    const timer = { id: null, gone: false, open: 0 };
    const count = el('p', { class: 'muted', 'data-testid': 'grants-count' }, 'Loading…');
    const body = el('tbody', {});
    const table = el('table', { class: 'list grants', 'data-testid': 'grants-table', hidden: true },
      el('caption', {}, all ? 'Every standing approval, newest first' : 'Active standing approvals, newest first'),
      el('thead', {}, el('tr', {}, ['Grant', 'Scope', 'Given by', 'Expires', 'Approved so far', 'Note', 'State',
        canRevoke ? 'Revoke' : null].filter(Boolean).map((h) => el('th', { scope: 'col' }, h)))),
      body);
    const toggle = el('input', { type: 'checkbox', id: 'grants-all', checked: all, 'data-testid': 'grants-all',
      onchange: () => C.go(toggle.checked ? '#/grants?all=1' : '#/grants') });
    const empty = el('p', { class: 'empty', 'data-testid': 'grants-empty', hidden: true },
      all ? 'No standing approval was ever given here.' : 'No standing approval is active.');
    const missing = el('p', { class: 'notice', role: 'status', 'data-testid': 'not-available', hidden: true });
    box.classList.add('pages');
    box.append(el('h1', {}, 'Standing approvals'),
      el('p', { class: 'lead' }, 'An approver who approves "this and the same kind for the next hours" ' +
        'gives a standing approval: until it expires, is revoked or reaches a cap, every escalation of ' +
        'exactly its scope is approved by it, in the name of the person who gave it — each still checked ' +
        'against the charter\'s boundaries and budgets.'),
      el('div', { class: 'toolbar' }, toggle, el('label', { for: 'grants-all' }, 'Show expired and revoked too')),
      count, missing, empty, table);

    function row(g) {
      const sc = g.scope || {};
      const err = el('p', { class: 'error', role: 'alert', 'data-testid': 'grants-error' });
      const cell = el('td', {});
      const tr = el('tr', { 'data-testid': 'grants-row', 'data-id': show(g.id) },
        el('th', { scope: 'row' }, el('code', {}, show(g.id))),
        el('td', {}, el('dl', { class: 'kv compact', 'data-testid': 'grants-scope' },
          el('dt', {}, 'queue'), el('dd', {}, show(sc.queue)),
          el('dt', {}, 'agent'), el('dd', {}, show(sc.agent)),
          el('dt', {}, 'workflow'), el('dd', {}, show(sc.workflow)),
          el('dt', {}, 'action'), el('dd', {}, show(sc.action)),
          el('dt', {}, 'rule'), el('dd', {}, sc.rule ? show(sc.rule) : '(the workflow\'s default)'))),
        el('td', { 'data-testid': 'grants-who' }, show(g.who), el('br', {}),
          el('span', { class: 'muted' }, C.fmtTime(g.time)),
          g.decision_id ? [el('br', {}), 'approving ',
            el('a', { href: `#/decision/${encodeURIComponent(g.decision_id)}` }, show(g.decision_id))] : null),
        el('td', { 'data-testid': 'grants-expires' }, C.fmtTime(g.expires), el('br', {}),
          g.active !== false && !g.revoked ? C.countdown(g.expires) : null),
        el('td', { 'data-testid': 'grants-used' }, used(g.used_count, g.max_count, 'escalations'), el('br', {}),
          used(g.used_amount, g.max_amount, 'in amount')),
        el('td', {}, show(g.note)),
        el('td', {}, state(g)),
        canRevoke ? cell : null);
      if (canRevoke && g.active !== false && !g.revoked)
        cell.append(el('button', { type: 'button', class: 'deny', 'data-testid': 'grants-revoke',
          'aria-label': `Revoke ${show(g.id)}`, onclick: () => openRevoke(g, cell, err) }, 'Revoke'), err);
      return tr;
    }

    // The revoke form, in the row: a note (required: the ledger keeps why)
    // and a confirmation.
    function openRevoke(g, cell, err) {
      timer.open++;
      const id = `grants-note-${show(g.id)}`;
      const note = el('input', { type: 'text', id, required: true, 'data-testid': 'grants-revoke-note' });
      const confirm = el('button', { type: 'button', class: 'deny', 'data-testid': 'grants-revoke-confirm',
        onclick: async () => {
          const text = note.value.trim();
          if (!text) {
            err.textContent = 'Say why in a note: it is kept in the ledger with your name.';
            note.focus();
            return;
          }
          confirm.disabled = true;
          const r = await C.api('POST', `/v1/grants/${encodeURIComponent(g.id)}/revoke`, { note: text });
          confirm.disabled = false;
          if (r.status === 200) {
            timer.open = Math.max(0, timer.open - 1);
            C.toast(`${g.id} revoked: matching escalations wait for a person again.`);
            load();
          } else {
            err.textContent = `Not revoked: ${C.errorText(r)}`;
            C.toast(`${g.id}: ${C.errorText(r)}`, 'error');
          }
        } }, `Revoke ${show(g.id)}`);
      const cancel = el('button', { type: 'button', 'data-testid': 'grants-revoke-cancel', onclick: () => {
        timer.open = Math.max(0, timer.open - 1);
        load();
      } }, 'Cancel');
      cell.replaceChildren(el('div', { class: 'revoke' },
        el('label', { for: id }, `Why revoke ${show(g.id)}`), note, el('div', { class: 'buttons' }, confirm, cancel)),
      err);
      note.focus();
    }

    async function load() {
      clearTimeout(timer.id);
      const r = await C.api('GET', all ? '/v1/grants' : '/v1/grants?active=1');
      if (timer.gone)
        return;
      if (r.status !== 200 || !r.body || !Array.isArray(r.body.grants)) {
        missing.textContent = r.status === 404
          ? 'Standing approvals are not available on this server (it answered 404: not built into this version).'
          : `The standing approvals could not be read: ${C.errorText(r)}.`;
        missing.hidden = false;
        count.textContent = '';
        table.hidden = true;
        if (r.status !== 404 && r.status !== 401)
          timer.id = setTimeout(load, REFRESH);
        return;
      }
      missing.hidden = true;
      const grants = r.body.grants.filter((g) => all || (g.active !== false && !g.revoked));
      const n = grants.length;
      count.textContent = n ? `${n} standing approval${n === 1 ? '' : 's'}${all ? '' : ' active'}.` : '';
      empty.hidden = n > 0;
      table.hidden = n === 0;
      body.replaceChildren(...grants.map(row));
      timer.open = 0;
      timer.id = setTimeout(function again() {
        if (timer.open)
          timer.id = setTimeout(again, REFRESH); // a revoke form is open: not now
        else
          load();
      }, REFRESH);
    }

    await load();
    return () => {
      timer.gone = true;
      clearTimeout(timer.id);
    };
  }

  C.page('grants', { title: 'Standing approvals', roles: ['approver', 'admin', 'auditor'], render: renderGrants });
})();
