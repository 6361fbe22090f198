// inbox.js - the approver's pages: the inbox (the open escalations of the
// queues this person may resolve, earliest deadline first, kept current by a
// long poll on the listing's version) and the history (what this person
// resolved). An auditor or admin sees the inbox read-only.
//
// Everything shown comes from GET /v1/escalations?detail=1 (the recorded
// request and answer, the fields the fired rules read, the values in rank
// order, on_timeout) and GET /v1/rules/history; when the server answers
// without the detail, the selected item's request and answer are read from
// GET /v1/decisions/{id}; when it has no rule history, that line is left
// out. Every value is set as text.
//
// Keyboard: j / k next / previous item, a approve, d deny, / the filters,
// Escape back to the list from a field.
'use strict';

(() => {
  const C = window.Charter;
  const { el } = C;
  const LONG_POLL = 25;     // seconds a listing call may wait for a change
  const FALLBACK_POLL = 5000; // ms between calls when the server has no version
  const PAGE = 200;          // items listed at most

  // ---- values as text ----------------------------------------------------------
  function show(v) {
    if (v === null || v === undefined)
      return '';
    if (typeof v === 'string')
      return v;
    return JSON.stringify(v, null, typeof v === 'object' ? 1 : 0);
  }

  function at(obj, path) { // 'input.amount' -> obj.input.amount
    let cur = obj;
    for (const part of path.split('.')) {
      if (cur === null || typeof cur !== 'object' || !(part in cur))
        return undefined;
      cur = cur[part];
    }
    return cur;
  }

  // The request's fields: first those the rules read, then the rest of
  // input and subject, one row each.
  function fieldRows(request, reads) {
    const rows = [];
    const seen = new Set();
    for (const path of reads || []) {
      if (seen.has(path))
        continue;
      seen.add(path);
      const v = at(request, path);
      rows.push(el('dt', { class: 'read', title: 'read by a rule that fired' }, path),
        el('dd', { class: 'read', 'data-testid': 'inbox-read-field' },
          v === undefined ? '(not in the request)' : show(v)));
    }
    for (const top of ['input', 'subject']) {
      const obj = request && request[top];
      if (!obj || typeof obj !== 'object')
        continue;
      for (const [k, v] of Object.entries(obj)) {
        const path = `${top}.${k}`;
        if (seen.has(path))
          continue;
        rows.push(el('dt', {}, path), el('dd', {}, show(v)));
      }
    }
    return rows;
  }

  const ON_TIMEOUT = {
    deny: 'it is denied',
    allow: 'it is approved (checked again against the charter)',
    next: 'it moves to the next queue',
  };

  // ---- the inbox -------------------------------------------------------------------
  function renderInbox(box, params) {
    const me = C.who();
    const canResolve = me.role === 'approver';
    const ui = {
      items: [],          // the listing, earliest deadline first
      selected: null,     // decision_id
      version: null,
      detailFor: null,    // the decision_id the detail shows
      decisions: new Map(), // id -> {request, answer} read separately (fallback)
      history: new Map(), // rule id -> Promise of the history body or null
      abort: null,
      timer: null,
      gone: false,
      busy: false,
      filters: { queue: params.queue || '', workflow: params.workflow || '', agent: params.agent || '' },
      known: { queue: new Set(me.queues || []), workflow: new Set(), agent: new Set() },
    };

    // Filters.
    const mkSelect = (name, label) => {
      const s = el('select', { id: `inbox-${name}`, 'data-testid': `inbox-filter-${name}`,
        onchange: () => { ui.filters[name] = s.value; restart(); } });
      return { field: el('div', { class: 'field' }, el('label', { for: `inbox-${name}` }, label), s), s };
    };
    const fq = mkSelect('queue', 'Queue');
    const fw = mkSelect('workflow', 'Workflow');
    const fa = mkSelect('agent', 'Agent');
    const fillSelects = () => {
      for (const [name, f] of [['queue', fq], ['workflow', fw], ['agent', fa]]) {
        const vals = [...ui.known[name]].sort();
        if (ui.filters[name] && !vals.includes(ui.filters[name]))
          vals.push(ui.filters[name]);
        const want = ['', ...vals].join('\n');
        if (f.s.dataset.have !== want) {
          f.s.replaceChildren(el('option', { value: '' }, `every ${name}`),
            ...vals.map((v) => el('option', { value: v }, v)));
          f.s.dataset.have = want;
        }
        f.s.value = ui.filters[name];
      }
    };

    const count = el('p', { class: 'muted', 'data-testid': 'inbox-count' }, 'Loading…');
    const list = el('ol', { class: 'inbox-list', 'data-testid': 'inbox-list',
      'aria-label': 'Open escalations, earliest deadline first' });
    const detail = el('div', { class: 'inbox-detail card', 'data-testid': 'inbox-detail',
      'aria-live': 'off' });
    const shortcuts = el('p', { class: 'shortcuts', 'data-testid': 'inbox-shortcuts' },
      'Keyboard: ', el('kbd', {}, 'j'), ' / ', el('kbd', {}, 'k'), ' next / previous, ',
      canResolve ? [el('kbd', {}, 'a'), ' approve, ', el('kbd', {}, 'd'), ' deny, '] : null,
      el('kbd', {}, '/'), ' filters, ', el('kbd', {}, 'Esc'), ' back to the list.');

    box.append(
      el('div', { class: 'inbox-head' },
        el('h1', {}, 'Inbox'),
        el('div', { class: 'filters', role: 'search', 'aria-label': 'Filter the inbox' },
          fq.field, fw.field, fa.field),
        count),
      canResolve ? el('span', { hidden: true }) : el('p', { class: 'readonly', 'data-testid': 'inbox-readonly' },
        `Read-only: an ${me.role} sees every queue; only an approver of a queue resolves its escalations.`),
      el('div', { class: 'inbox' }, el('div', {}, list, shortcuts), detail));
    fillSelects();

    // ---- the listing, long polled ---------------------------------------------------
    function query(wait) {
      const q = new URLSearchParams({ status: 'open', sort: 'deadline', detail: '1',
        limit: String(PAGE) });
      for (const [k, v] of Object.entries(ui.filters))
        if (v)
          q.set(k, v);
      if (wait && ui.version !== null) {
        q.set('wait', String(LONG_POLL));
        q.set('version', String(ui.version));
      }
      return `/v1/escalations?${q}`;
    }

    async function poll(first) {
      if (ui.gone)
        return;
      ui.abort = new AbortController();
      const asked = Date.now();
      const was = ui.version;
      const r = await C.api('GET', query(!first), null, { signal: ui.abort.signal });
      if (ui.gone || (r.body && r.body.error && r.body.error.code === 'aborted'))
        return;
      let delay = 0;
      if (r.status === 200 && r.body && Array.isArray(r.body.escalations)) {
        ui.failures = 0;
        const hasVersion = typeof r.body.version === 'number';
        ui.version = hasVersion ? r.body.version : null;
        take(r.body);
        if (!hasVersion)
          delay = FALLBACK_POLL;
        else if (!first && ui.version === was && Date.now() - asked < 1000)
          delay = 2000; // answered at once with nothing new: never a storm
      } else if (r.status === 401) {
        return; // the shell shows the sign-in form
      } else {
        ui.failures = (ui.failures || 0) + 1;
        delay = Math.min(30000, 2000 * 2 ** (ui.failures - 1));
        count.textContent = `The inbox could not be read: ${C.errorText(r)}. Trying again in ${Math.round(delay / 1000)} s.`;
      }
      ui.timer = setTimeout(() => poll(false), delay);
    }

    function restart() {
      if (ui.abort)
        ui.abort.abort();
      clearTimeout(ui.timer);
      ui.version = null;
      const h = new URLSearchParams();
      for (const [k, v] of Object.entries(ui.filters))
        if (v)
          h.set(k, v);
      const want = `#/inbox${h.toString() ? `?${h}` : ''}`;
      if (location.hash !== want)
        history.replaceState(null, '', want);
      poll(true);
    }

    function take(body) {
      const matches = (e) => Object.entries(ui.filters).every(([k, v]) => !v || e[k] === v);
      const items = body.escalations.filter((e) => e.status === undefined || e.status === 'open')
        .filter(matches);
      const due = (e) => (e.deadline ? Date.parse(e.deadline) : Infinity);
      items.sort((x, y) => due(x) - due(y) ||
        Number(String(x.decision_id).slice(2)) - Number(String(y.decision_id).slice(2)));
      for (const e of body.escalations) {
        for (const k of ['queue', 'workflow', 'agent'])
          if (e[k])
            ui.known[k].add(e[k]);
      }
      fillSelects();
      const before = ui.selected;
      ui.items = items;
      if (!items.some((e) => e.decision_id === ui.selected))
        ui.selected = items.length ? items[0].decision_id : null;
      const total = typeof body.total === 'number' ? body.total : items.length;
      count.textContent = items.length === 0 ? 'Nothing waiting for a person.'
        : `${total} open escalation${total === 1 ? '' : 's'}` +
          (total > items.length ? ` (the first ${items.length} shown)` : '') + ', earliest deadline first.';
      drawList();
      if (ui.selected !== ui.detailFor)
        drawDetail(before && before !== ui.selected && ui.detailFor === before ?
          `${before} is no longer open (resolved, timed out or moved).` : null);
    }

    function drawList() {
      const focusedId = document.activeElement && document.activeElement.dataset &&
        document.activeElement.dataset.id;
      const nodes = ui.items.map((e) => el('li', {},
        el('button', { type: 'button', class: 'inbox-item', 'data-testid': 'inbox-item',
          'data-id': e.decision_id, 'aria-current': e.decision_id === ui.selected ? 'true' : null,
          onclick: () => select(e.decision_id, true) },
        el('span', { class: 'line1' }, `${e.workflow} / ${e.action}`),
        el('span', { class: 'line2' },
          el('span', {}, `${e.agent} · ${e.queue} · ${e.decision_id}`),
          C.countdown(e.deadline)))));
      list.replaceChildren(...nodes);
      if (focusedId) {
        const again = list.querySelector(`[data-id="${CSS.escape(focusedId)}"]`);
        if (again)
          again.focus();
      }
    }

    function select(id, focus) {
      ui.selected = id;
      for (const b of list.querySelectorAll('.inbox-item')) {
        if (b.dataset.id === id) {
          b.setAttribute('aria-current', 'true');
          if (focus)
            b.focus();
          b.scrollIntoView({ block: 'nearest' });
        } else {
          b.removeAttribute('aria-current');
        }
      }
      if (ui.detailFor !== id)
        drawDetail();
    }

    function move(step) {
      if (!ui.items.length)
        return;
      const i = ui.items.findIndex((e) => e.decision_id === ui.selected);
      const j = Math.max(0, Math.min(ui.items.length - 1, (i < 0 ? 0 : i + step)));
      select(ui.items[j].decision_id, true);
    }

    // ---- one escalation ---------------------------------------------------------------
    async function drawDetail(notice) {
      const e = ui.items.find((x) => x.decision_id === ui.selected);
      ui.detailFor = e ? e.decision_id : null;
      if (!e) {
        detail.replaceChildren(el('p', { class: 'empty', 'data-testid': 'inbox-empty' },
          notice || 'Nothing selected: the inbox is empty.'));
        return;
      }
      let request = e.request;
      let answer = e.answer;
      if (!request || !answer) {
        if (!ui.decisions.has(e.decision_id)) {
          detail.replaceChildren(el('p', { class: 'muted' }, `Reading ${e.decision_id}…`));
          const r = await C.api('GET', `/v1/decisions/${encodeURIComponent(e.decision_id)}`);
          if (r.status === 200 && r.body)
            ui.decisions.set(e.decision_id, { request: r.body.request, answer: r.body.answer });
          if (ui.detailFor !== e.decision_id)
            return; // another item was chosen meanwhile
        }
        const d = ui.decisions.get(e.decision_id) || {};
        request = request || d.request || {};
        answer = answer || d.answer || {};
      }
      const fired = Array.isArray(answer.fired) ? answer.fired : [];
      const reads = e.reads || [];
      const values = Array.isArray(e.values_ranked) && e.values_ranked.length ? e.values_ranked
        : (answer.values || []).map((id) => ({ id }));
      const onTimeout = e.on_timeout;

      const note = el('textarea', { id: 'inbox-note', 'data-testid': 'inbox-note', rows: 2,
        'aria-describedby': 'inbox-note-help' });
      const err = el('p', { class: 'error', role: 'alert', 'data-testid': 'inbox-error' }, notice || '');
      const approve = el('button', { type: 'button', class: 'approve', 'data-testid': 'inbox-approve',
        onclick: () => resolve(e, 'approve', note, err, [approve, deny]) }, 'Approve');
      const deny = el('button', { type: 'button', class: 'deny', 'data-testid': 'inbox-deny',
        onclick: () => resolve(e, 'deny', note, err, [approve, deny]) }, 'Deny (write a note first)');
      note.addEventListener('input', () => {
        deny.textContent = note.value.trim() ? 'Deny' : 'Deny (write a note first)';
      });

      const hist = el('p', { class: 'muted', 'data-testid': 'inbox-rule-history', hidden: true });
      const rule = (fired.find((f) => f.effect === 'escalate') || fired[0] || {}).id;
      if (rule)
        ruleHistory(rule).then((h) => {
          if (!h)
            return;
          const days = h.days || 30;
          hist.textContent = h.escalated === 0 ? `Rule ${rule} escalated nothing else in the last ${days} days.`
            : `Rule ${rule} in the last ${days} days: ${h.approved} approved, ${h.denied} denied, ` +
              `${h.timed_out} timed out (of ${h.escalated} escalated${h.open ? `, ${h.open} open` : ''}).`;
          hist.hidden = false;
        });

      detail.replaceChildren(
        el('article', { 'aria-labelledby': 'inbox-detail-title', 'data-id': e.decision_id },
          el('h2', { id: 'inbox-detail-title', 'data-testid': 'inbox-detail-title' },
            `${e.workflow} / ${e.action}`),
          el('div', { class: 'detail-grid' }, el('div', {},
          el('dl', { class: 'kv' },
            el('dt', {}, 'agent'), el('dd', { 'data-testid': 'inbox-agent' }, show(e.agent)),
            el('dt', {}, 'queue'), el('dd', {}, show(e.queue)),
            el('dt', {}, 'decision'), el('dd', {}, show(e.decision_id)),
            e.run_id ? [el('dt', {}, 'run'), el('dd', {}, show(e.run_id))] : null,
            el('dt', {}, 'asked'), el('dd', {}, C.fmtTime(e.time)),
            el('dt', {}, 'deadline'), el('dd', { 'data-testid': 'inbox-deadline' },
              C.countdown(e.deadline), ` (${C.fmtTime(e.deadline)})`,
              onTimeout ? el('span', { 'data-testid': 'inbox-on-timeout' },
                ` — then ${ON_TIMEOUT[onTimeout] || show(onTimeout)}`) : null)),
          el('section', {}, el('h3', {}, 'The request'),
            el('dl', { class: 'kv', 'data-testid': 'inbox-fields' }, fieldRows(request, reads))),
          el('section', {}, el('h3', {}, 'The agent says'),
            el('dl', { class: 'kv' },
              el('dt', {}, 'rationale'), el('dd', { 'data-testid': 'inbox-rationale' },
                request.rationale ? show(request.rationale) : '(none given)'),
              el('dt', {}, 'confidence'), el('dd', { 'data-testid': 'inbox-confidence' },
                typeof request.confidence === 'number' ? request.confidence.toFixed(2) : '(none given)')))),
          el('div', {},
          el('section', {}, el('h3', {}, 'Why it waits for a person'),
            el('p', { 'data-testid': 'inbox-explanation' }, show(answer.explanation)),
            fired.length ? el('ul', { 'data-testid': 'inbox-fired' }, fired.map((f) => el('li', {},
              el('span', { class: `tag ${f.effect || ''}` }, `${f.kind || 'rule'} ${f.effect || ''}`), ' ',
              el('code', {}, show(f.id)), f.message ? ` — ${f.message}` : ''))) : null,
            hist),
          values.length ? el('section', {}, el('h3', {}, 'Values at stake, in rank order'),
            el('ol', { 'data-testid': 'inbox-values' }, values.map((v) => el('li', {},
              el('code', {}, show(v.id)), v.statement ? ` — ${v.statement}` : '')))) : null,
          canResolve ? el('div', { class: 'resolve', 'data-testid': 'inbox-resolve' },
            el('label', { for: 'inbox-note' }, 'Note'),
            note,
            el('p', { id: 'inbox-note-help', class: 'help' },
              'Kept in the ledger with your name. Required to deny; optional to approve.'),
            el('div', { class: 'buttons' }, approve, deny),
            err)
            : el('p', { class: 'readonly' }, 'Read-only: you cannot resolve this escalation.')))));
    }

    // A rule's last 30 days, asked once per rule and listing version (so at
    // most once per item drawn, and again only after something changed);
    // null when the server keeps no history (404) or fails.
    function ruleHistory(rule) {
      const key = `${rule}\n${ui.version}`;
      if (!ui.history.has(key))
        ui.history.set(key, C.api('GET', `/v1/rules/history?rule=${encodeURIComponent(rule)}&days=30`)
          .then((r) => (r.status === 200 && r.body && typeof r.body.escalated === 'number' ? r.body : null)));
      return ui.history.get(key);
    }

    async function resolve(e, resolution, note, err, buttons) {
      if (ui.busy)
        return;
      const text = note.value.trim();
      if (resolution === 'deny' && !text) {
        err.textContent = 'A note is required to deny: say why, for the agent and the ledger.';
        C.toast('Not denied: a note is required to deny.', 'error');
        note.focus();
        return;
      }
      ui.busy = true;
      for (const b of buttons)
        b.disabled = true;
      const body = { resolution };
      if (text)
        body.note = text;
      const r = await C.api('POST', `/v1/escalations/${encodeURIComponent(e.decision_id)}/resolve`, body);
      ui.busy = false;
      for (const b of buttons)
        b.disabled = false;
      if (r.status === 200) {
        const done = r.body && r.body.status ? r.body.status : `${resolution}d`;
        C.toast(`${e.decision_id} ${done}.`);
        ui.items = ui.items.filter((x) => x.decision_id !== e.decision_id);
        const next = ui.items[0];
        ui.selected = next ? next.decision_id : null;
        drawList();
        await drawDetail();
        const b = next && list.querySelector(`[data-id="${CSS.escape(next.decision_id)}"]`);
        if (b)
          b.focus();
        else
          list.focus();
      } else {
        const why = C.errorText(r);
        err.textContent = `Not ${resolution === 'approve' ? 'approved' : 'denied'}: ${why}`;
        C.toast(`${e.decision_id}: ${why}`, 'error');
      }
    }

    // ---- keyboard ----------------------------------------------------------------------
    function onKey(ev) {
      if (ev.ctrlKey || ev.metaKey || ev.altKey)
        return;
      const t = ev.target;
      const typing = t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' ||
        t.isContentEditable);
      if (typing) {
        if (ev.key === 'Escape') {
          t.blur();
          const b = list.querySelector('[aria-current="true"]');
          if (b)
            b.focus();
        }
        return;
      }
      const click = (id) => {
        const b = detail.querySelector(`[data-testid="${id}"]`);
        if (b && !b.disabled)
          b.click();
      };
      if (ev.key === 'j') move(1);
      else if (ev.key === 'k') move(-1);
      else if (ev.key === 'a' && canResolve) click('inbox-approve');
      else if (ev.key === 'd' && canResolve) click('inbox-deny');
      else if (ev.key === '/') fq.s.focus();
      else return;
      ev.preventDefault();
    }
    document.addEventListener('keydown', onKey);

    poll(true);
    return () => {
      ui.gone = true;
      if (ui.abort)
        ui.abort.abort();
      clearTimeout(ui.timer);
      document.removeEventListener('keydown', onKey);
    };
  }

  // ---- history: what this person resolved --------------------------------------------------
  async function renderHistory(box) {
    const me = C.who();
    const count = el('p', { class: 'muted', 'data-testid': 'history-count' }, 'Loading…');
    const body = el('tbody', {});
    box.append(el('h1', {}, 'History'),
      el('p', {}, `The escalations ${me.name} resolved, newest first.`), count,
      el('table', { class: 'list', 'data-testid': 'history-table' },
        el('caption', { class: 'muted' }, 'Resolved by you'),
        el('thead', {}, el('tr', {}, ['Decision', 'Agent', 'Workflow / action', 'Queue', 'Resolution',
          'Resolved at', 'Note'].map((h) => el('th', { scope: 'col' }, h)))),
        body));
    const r = await C.api('GET', '/v1/escalations?resolved_by=me&status=resolved&limit=500');
    if (r.status !== 200 || !r.body || !Array.isArray(r.body.escalations)) {
      count.textContent = `The history could not be read: ${C.errorText(r)}`;
      return;
    }
    const mine = r.body.escalations.filter((e) => e.resolved_by === me.name)
      .sort((x, y) => String(y.resolved_at || '').localeCompare(String(x.resolved_at || '')));
    count.textContent = mine.length ? `${mine.length} resolved.` : 'You have not resolved anything yet.';
    body.replaceChildren(...mine.map((e) => el('tr', { 'data-testid': 'history-row', 'data-id': e.decision_id },
      el('td', {}, el('a', { href: `#/decision/${encodeURIComponent(e.decision_id)}` }, e.decision_id)),
      el('td', {}, show(e.agent)),
      el('td', {}, `${e.workflow} / ${e.action}`),
      el('td', {}, show(e.queue)),
      el('td', {}, el('span', { class: `tag ${e.status}` }, show(e.status))),
      el('td', {}, C.fmtTime(e.resolved_at)),
      el('td', {}, show(e.note)))));
  }

  C.page('inbox', { title: 'Inbox', roles: ['approver', 'admin', 'auditor'], render: renderInbox });
  C.page('history', { title: 'History', roles: ['approver'], render: renderHistory });
})();
