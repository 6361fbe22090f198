// decisions.js - the console's decision search ('#/decisions?agent=..') and
// one decision's page ('#/decision/d-7'), for admins and auditors (an
// approver may open the decision pages of its queues' escalations). Also
// the few helpers the other page files (alignment.js, charter.js) share, as
// window.CharterPages.
//
// Every value from the server is set as text (Charter.el makes text nodes of
// strings); the only href values built here are our own '#/...' routes and
// '/v1/...' URLs whose query values went through encodeURIComponent (by
// URLSearchParams), never a string taken from an answer as a whole.
'use strict';

(() => {
  const { el, api, page, go, fmtTime } = window.Charter;
  const errorText = window.Charter.errorText || ((r) => `the server answered ${r.status}`);

  // ---- shared helpers (window.CharterPages) -----------------------------

  // The pages' own style sheet, added once from here (index.html links
  // app.css; a <link> made by a script from 'self' is what the CSP allows).
  function ensureCss() {
    if (!document.querySelector('link[data-pages-css]'))
      document.head.append(el('link', { rel: 'stylesheet', href: '/console/pages.css',
        'data-pages-css': '' }));
  }

  // A number for people: integers as they are, others with up to 3 decimals.
  function fmtNum(v) {
    if (v === null || v === undefined)
      return '–';
    if (typeof v !== 'number')
      return String(v);
    return Number.isInteger(v) ? String(v) : String(Math.round(v * 1000) / 1000);
  }

  // A share 0..1 as a percentage, '–' when there is none.
  function fmtRate(v) {
    return typeof v === 'number' ? `${Math.round(v * 1000) / 10} %` : '–';
  }

  // table(caption, columns, rows, testid): an accessible table. columns:
  // [{head, cell(row) -> node|string, num}]; a 'num' column is right-aligned.
  function table(caption, columns, rows, testid) {
    return el('table', { class: 'list', 'data-testid': testid || null },
      caption ? el('caption', {}, caption) : null,
      el('thead', {}, el('tr', {}, columns.map((c) =>
        el('th', { scope: 'col', class: c.num ? 'num' : null }, c.head)))),
      el('tbody', {}, rows.map((r) => el('tr', {}, columns.map((c, i) => {
        const v = c.cell(r);
        return el(i === 0 ? 'th' : 'td', { scope: i === 0 ? 'row' : null,
          class: c.num ? 'num' : null }, v === null || v === undefined ? '' : v);
      })))));
  }

  // value(v): any JSON value as nodes people can read: scalars as text,
  // arrays of scalars joined, objects and arrays of objects as nested
  // definition lists.
  function value(v) {
    if (v === null || v === undefined)
      return el('span', { class: 'muted' }, 'null');
    if (typeof v === 'string')
      return v === '' ? el('span', { class: 'muted' }, '(empty)') : v;
    if (typeof v !== 'object')
      return String(v);
    if (Array.isArray(v)) {
      if (v.length === 0)
        return el('span', { class: 'muted' }, '(none)');
      if (v.every((x) => x === null || typeof x !== 'object'))
        return v.map((x) => (x === null ? 'null' : String(x))).join(', ');
      return el('ol', { class: 'nested' }, v.map((x) => el('li', {}, value(x))));
    }
    return kv(v);
  }

  // kv(obj, {first}): a definition list of obj's fields (the names in
  // 'first' before the others, marked).
  function kv(obj, opts) {
    const first = (opts && opts.first) || [];
    const keys = Object.keys(obj);
    const ordered = first.filter((k) => keys.includes(k)).concat(keys.filter((k) => !first.includes(k)));
    if (ordered.length === 0)
      return el('span', { class: 'muted' }, '(empty)');
    return el('dl', { class: 'kv' }, ordered.map((k) => [
      el('dt', {}, k), el('dd', {}, value(obj[k]))]));
  }

  // A plain statement that a part of the API is not on this server.
  function notAvailable(what, r) {
    const why = r.status === 404
      ? `${what} is not available on this server (it answered 404: not built into this version).`
      : `${what} could not be loaded: ${errorText(r)}.`;
    return el('p', { class: 'notice', role: 'status', 'data-testid': 'not-available' }, why);
  }

  // The query string of the non-empty entries of params, in the given order.
  function query(params, keys) {
    const q = new URLSearchParams();
    for (const k of keys)
      if (params[k] !== undefined && params[k] !== null && String(params[k]) !== '')
        q.set(k, String(params[k]));
    return q.toString();
  }

  // put(node, ...children): appends children as el() does (arrays
  // flattened, null and false skipped, strings as text); put(node, null)
  // leaves it as is. fill(node, ...children) replaces what node holds.
  function put(node, ...children) {
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false)
        continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }
  const fill = (node, ...children) => { node.replaceChildren(); return put(node, ...children); };

  const decisionHref = (id) => `#/decision/${encodeURIComponent(id)}`;
  const tag = (word) => el('span', { class: ['tag', String(word)] }, String(word));

  window.CharterPages = Object.freeze({ ensureCss, fmtNum, fmtRate, table, value, kv,
    notAvailable, query, decisionHref, tag, put, fill });
  ensureCss();

  // ---- the decision search --------------------------------------------------

  // The filters, in the order of the form and of the URLs we build.
  const FILTERS = [
    { key: 'since', label: 'From', help: 'a date or RFC 3339 time', kind: 'text' },
    { key: 'until', label: 'Until', help: 'a date or RFC 3339 time', kind: 'text' },
    { key: 'agent', label: 'Agent', kind: 'text' },
    { key: 'workflow', label: 'Workflow', kind: 'text' },
    { key: 'action', label: 'Action', kind: 'text' },
    { key: 'decision', label: 'Decision', kind: 'select', options: ['allow', 'escalate', 'deny'] },
    { key: 'reason', label: 'Reason', kind: 'select', options: ['rule', 'boundary', 'stop_rule',
      'default', 'human_only', 'augmented_requires_approval', 'unknown_agent', 'unknown_workflow',
      'workflow_not_granted', 'action_not_in_workflow'] },
    { key: 'rule', label: 'Rule id', kind: 'text' },
    { key: 'run_id', label: 'Run id', kind: 'text' },
    { key: 'status', label: 'Escalation status', kind: 'select',
      options: ['open', 'approved', 'denied', 'timed_out'] },
  ];
  const FILTER_KEYS = FILTERS.map((f) => f.key);
  const PAGE_SIZE = 50;

  function filterForm(params) {
    const fields = FILTERS.map((f) => {
      const id = `dq-${f.key}`;
      let control;
      if (f.kind === 'select') {
        control = el('select', { id, name: f.key, 'data-testid': `filter-${f.key}` },
          el('option', { value: '' }, 'any'),
          f.options.map((o) => el('option', { value: o, selected: params[f.key] === o }, o)));
      } else {
        control = el('input', { id, name: f.key, type: 'text', value: params[f.key] || '',
          autocomplete: 'off', spellcheck: 'false', placeholder: f.help || null,
          list: f.list ? `${id}-list` : null, 'data-testid': `filter-${f.key}`,
          class: f.key === 'since' || f.key === 'until' ? 'wide' : null });
      }
      return el('div', { class: 'field' }, el('label', { for: id }, f.label), control,
        f.list ? el('datalist', { id: `${id}-list` }, f.list.map((o) => el('option', { value: o }))) : null);
    });
    const form = el('form', { class: 'filters', role: 'search', 'aria-label': 'Filter decisions',
      'data-testid': 'decisions-form',
      onsubmit: (ev) => {
        ev.preventDefault();
        const next = {};
        for (const f of FILTERS)
          next[f.key] = form.elements[f.key].value.trim();
        const q = query(next, FILTER_KEYS);
        go(`#/decisions${q ? `?${q}` : ''}`);
      } },
    fields,
    el('div', { class: 'field' },
      el('button', { type: 'submit', class: 'primary', 'data-testid': 'decisions-search' }, 'Search')),
    el('div', { class: 'field' },
      el('a', { href: '#/decisions', class: 'button', 'data-testid': 'decisions-clear' }, 'Clear')));
    return form;
  }

  const COLUMNS = [
    { head: 'Decision', cell: (d) => el('a', { href: decisionHref(d.decision_id),
      'data-testid': 'decision-link' }, d.decision_id) },
    { head: 'Time', cell: (d) => fmtTime(d.time) },
    { head: 'Agent', cell: (d) => d.agent },
    { head: 'Workflow', cell: (d) => d.workflow },
    { head: 'Action', cell: (d) => d.action },
    { head: 'Decision', cell: (d) => [tag(d.decision),
      d.answered && d.answered !== d.decision ? el('span', { class: 'muted' }, ` (answered ${d.answered})`) : null] },
    { head: 'Reason', cell: (d) => d.reason },
    { head: 'Rules', cell: (d) => (d.rules || []).join(', ') },
    { head: 'Run', cell: (d) => d.run_id || '' },
    { head: 'Escalation', cell: (d) => (d.status ? tag(d.status) : '') },
  ];

  async function renderSearch(box, params) {
    box.classList.add('pages');
    put(box, el('h1', {}, 'Decisions'),
      el('p', { class: 'help' }, 'Search the ledger. Every filter is exact except the time range; ' +
        'the address of this page keeps the filters, so it can be shared.'),
      filterForm(params));
    const filter = query(params, FILTER_KEYS);
    const results = el('section', { 'aria-label': 'Results', 'aria-busy': 'true',
      'data-testid': 'decisions-results' }, el('p', { class: 'muted' }, 'Searching…'));
    put(box, results);
    // A page of 50 unless the address says otherwise (limit=1..1000).
    const n = Number(params.limit);
    const limit = Number.isInteger(n) && n >= 1 && n <= 1000 ? n : PAGE_SIZE;
    const q = query(Object.assign({}, params, { limit }), FILTER_KEYS.concat(['before', 'limit']));
    const r = await api('GET', `/v1/decisions?${q}`);
    results.setAttribute('aria-busy', 'false');
    if (r.status !== 200 || !r.body || !Array.isArray(r.body.decisions)) {
      fill(results, r.status === 400
        ? el('p', { class: 'error', role: 'alert', 'data-testid': 'decisions-error' },
          `The search was refused: ${errorText(r)}`)
        : notAvailable('The decision search (GET /v1/decisions)', r));
      return;
    }
    const b = r.body;
    const parts = [];
    if (typeof b.indexed_through === 'number' && typeof b.ledger_seq === 'number' &&
        b.indexed_through < b.ledger_seq) {
      parts.push(el('div', { class: 'notice', role: 'status', 'data-testid': 'decisions-progress' },
        el('label', { for: 'dq-progress' }, 'Search index: '),
        el('progress', { id: 'dq-progress', max: b.ledger_seq, value: b.indexed_through }),
        ` read ${b.indexed_through} of ${b.ledger_seq} ledger entries; ` +
        'newer decisions appear here as it catches up.'));
    }
    const exportQ = filter ? `${filter}&` : '';
    parts.push(el('p', { class: 'toolbar' },
      el('span', { 'data-testid': 'decisions-count' },
        `${b.count} decision${b.count === 1 ? '' : 's'} on this page${params.before ? ` (older than ${params.before})` : ''}, newest first. `),
      'Export the whole filtered set: ',
      el('a', { href: `/v1/decisions?${exportQ}format=jsonl`, download: 'decisions.jsonl',
        'data-testid': 'decisions-export-jsonl' }, 'JSON lines'),
      ' · ',
      el('a', { href: `/v1/decisions?${exportQ}format=csv`, download: 'decisions.csv',
        'data-testid': 'decisions-export-csv' }, 'CSV')));
    if (b.decisions.length === 0)
      parts.push(el('p', { class: 'empty', 'data-testid': 'decisions-empty' }, 'No decision matches these filters.'));
    else
      parts.push(table(null, COLUMNS, b.decisions, 'decisions-table'));
    const nav = el('p', { class: 'pager' });
    if (params.before)
      nav.append(el('a', { href: `#/decisions?${query(params, FILTER_KEYS.concat(['limit']))}`, class: 'button',
        'data-testid': 'decisions-newest' }, 'Newest'), ' ');
    if (b.next) {
      const older = query(Object.assign({}, params, { before: b.next }), FILTER_KEYS.concat(['before', 'limit']));
      nav.append(el('a', { href: `#/decisions?${older}`, class: 'button', rel: 'next',
        'data-testid': 'decisions-older' }, 'Older'));
    }
    if (nav.childNodes.length)
      parts.push(nav);
    fill(results, parts);
  }

  page('decisions', { title: 'Decisions', roles: ['admin', 'auditor'], render: renderSearch });

  // ---- one decision -------------------------------------------------------------

  // The request fields first in this order, then the rest.
  const REQUEST_FIRST = ['agent', 'workflow', 'action', 'input', 'subject', 'context', 'rationale',
    'confidence', 'run_id', 'time'];

  function answerSection(a) {
    const fired = Array.isArray(a.fired) ? a.fired : [];
    return el('section', { class: 'card', 'aria-labelledby': 'dd-answer', 'data-testid': 'decision-answer' },
      el('h2', { id: 'dd-answer' }, 'The answer'),
      el('dl', { class: 'kv' },
        el('dt', {}, 'decision'), el('dd', {}, tag(a.decision || '?')),
        el('dt', {}, 'reason'), el('dd', {}, value(a.reason)),
        el('dt', {}, 'explanation'), el('dd', { 'data-testid': 'decision-explanation' }, value(a.explanation)),
        el('dt', {}, 'values'), el('dd', {}, value(a.values || [])),
        el('dt', {}, 'obligations'), el('dd', {}, value(a.obligations || [])),
        a.escalation ? [el('dt', {}, 'escalated to'), el('dd', {},
          `${a.escalation.queue || '?'}${a.escalation.deadline ? `, deadline ${fmtTime(a.escalation.deadline)}` : ''}`)] : null,
        a.shadow ? [el('dt', {}, 'shadow'), el('dd', {}, 'yes (an unregistered agent)')] : null),
      el('h3', {}, 'What fired'),
      fired.length === 0 ? el('p', { class: 'muted' }, 'Nothing fired (the workflow\'s default decided).')
        : table(null, [
          { head: 'Id', cell: (f) => f.id },
          { head: 'Kind', cell: (f) => f.kind },
          { head: 'Effect', cell: (f) => (f.effect ? tag(f.effect) : '') },
          { head: 'Protects', cell: (f) => f.value || '' },
          { head: 'Message', cell: (f) => f.message || '' },
        ], fired, 'decision-fired'));
  }

  function historySection(b) {
    const esc = b.escalation;
    let rows = Array.isArray(b.history) ? b.history : null;
    if (!rows && esc) { // before the index's history: what the escalation itself says
      const first = (b.answer && b.answer.escalation && b.answer.escalation.queue) || esc.queue;
      rows = [{ event: 'escalated', time: esc.time, queue: first }];
      if (first !== esc.queue) // moved at a deadline; when is in the ledger, not in this answer
        rows.push({ event: 'moved', queue: esc.queue });
      if (esc.status && esc.status !== 'open')
        rows.push({ event: esc.timed_out ? 'timed_out' : esc.status, time: esc.resolved_at,
          queue: esc.queue, by: esc.resolved_by, note: esc.note });
    }
    if (!rows)
      return null;
    return el('section', { class: 'card', 'aria-labelledby': 'dd-history', 'data-testid': 'decision-history' },
      el('h2', { id: 'dd-history' }, 'Escalation history'),
      esc ? el('p', {}, 'Now: ', tag(esc.status || 'open'),
        esc.status === 'open' && esc.deadline ? [' deadline ', window.Charter.countdown(esc.deadline)] : null) : null,
      table(null, [
        { head: 'Event', cell: (h) => h.event },
        { head: 'Time', cell: (h) => fmtTime(h.time) },
        { head: 'Queue', cell: (h) => h.queue || '' },
        { head: 'By', cell: (h) => h.by || '' },
        { head: 'Note', cell: (h) => h.note || '' },
      ], rows));
  }

  function outcomesSection(b) {
    const rows = Array.isArray(b.outcomes) ? b.outcomes : null;
    return el('section', { class: 'card', 'aria-labelledby': 'dd-outcomes', 'data-testid': 'decision-outcomes' },
      el('h2', { id: 'dd-outcomes' }, 'Outcomes reported for it'),
      rows === null ? el('p', { class: 'muted' }, 'This server does not list outcomes per decision.')
        : rows.length === 0 ? el('p', { class: 'muted' }, 'None reported.')
          : table(null, [
            { head: 'Metric', cell: (o) => o.metric },
            { head: 'Value', cell: (o) => fmtNum(o.value), num: true },
            { head: 'Note', cell: (o) => o.note || '' },
            { head: 'Time', cell: (o) => fmtTime(o.time) },
          ], rows));
  }

  async function renderDecision(box, params) {
    box.classList.add('pages');
    const id = params.id || '';
    put(box, el('p', {}, el('a', { href: '#/decisions' }, '← Decisions')),
      el('h1', {}, 'Decision ', el('span', { class: 'mono', 'data-testid': 'decision-id' }, id)));
    const r = await api('GET', `/v1/decisions/${encodeURIComponent(id)}`);
    if (r.status !== 200 || !r.body || typeof r.body !== 'object') {
      put(box, r.status === 404 ? el('p', { class: 'error', role: 'alert' }, `There is no decision '${id}' in this ledger.`)
        : notAvailable(`Decision ${id}`, r));
      return;
    }
    const b = r.body;
    const req = b.request || {};
    const a = b.answer || {};
    const version = b.charter_version || a.charter_version;
    put(box, 
      el('p', { class: 'lead', 'data-testid': 'decision-summary' },
        tag(b.decision || a.decision || '?'),
        b.final === false ? el('span', { class: 'muted' }, ' (waiting for a person)') : null,
        ` ${req.agent || '?'} · ${req.workflow || '?'} · ${req.action || '?'} · ${fmtTime(a.time || req.time)}`),
      el('p', { 'data-testid': 'decision-charter' }, 'Decided by charter version ',
        version ? el('a', { href: `#/charter?version=${encodeURIComponent(version)}`, class: 'mono',
          'data-testid': 'decision-charter-link' }, version) : el('span', { class: 'muted' }, 'unknown')),
      el('div', { class: 'columns' },
        el('section', { class: 'card', 'aria-labelledby': 'dd-request', 'data-testid': 'decision-request' },
          el('h2', { id: 'dd-request' }, 'The request'),
          kv(req, { first: REQUEST_FIRST })),
        answerSection(a)),
      historySection(b),
      outcomesSection(b));
  }

  page('decision', { title: 'Decision', roles: ['approver', 'admin', 'auditor'], nav: false,
    render: renderDecision });
})();
