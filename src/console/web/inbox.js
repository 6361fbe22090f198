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
// The queue's approval policy (docs/charter-reference.md) shows on the item:
// how many approvals it needs and who gave them (a vote that does not yet
// reach the quorum leaves it open, "waiting for a second approver"), whether
// a note is required (policy.require_note: deny, or always), Approve disabled
// with the reason when this person may not approve (may_approve_why: the
// agent's owner), and, where the queue allows standing approvals and one
// approval is enough, "Approve and allow the same for..." (POST .../grant)
// with the exact scope shown before confirming. A strip above the list says
// when notifications to a queue's targets are failing (GET
// /v1/notifications?status=failing; left out quietly where the server has
// no such endpoint or the key may not read it). '#/inbox?id=d-7' (the link a
// notification carries) opens that item.
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
  const FAILING_POLL = 30000; // ms between reads of the failing notifications
  const FAILING_SHOWN = 20;   // failing notifications listed at most

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

  // What a refusal's code means, for the person who clicked (the server's
  // own message, with the details, follows it).
  const REFUSED = {
    self_approval: 'you own the agent that asked, and this queue does not let an agent\'s owner approve it',
    already_approved: 'you already approved this escalation; its quorum needs another approver',
    quorum: 'this escalation needs more than one approver, so a standing approval cannot approve it',
    grants_not_allowed: 'this queue does not allow standing approvals',
    note_required: 'this queue needs a note for it',
    already_resolved: 'someone was faster',
    boundary: 'a boundary of the charter serving now forbids it',
    stop_rule: 'a stop rule of the charter serving now forbids it',
    charter_denies: 'the charter serving now denies it',
    forbidden: 'your key may not do this',
  };
  function refusedText(r) {
    const code = r && r.body && r.body.error && r.body.error.code;
    const why = REFUSED[code];
    return why ? `${why}. ${C.errorText(r)}` : C.errorText(r);
  }

  // The names of an escalation's approvals so far ([{who}] or [names]).
  const approvers = (e) => (Array.isArray(e.approvals) ? e.approvals : [])
    .map((a) => (a && typeof a === 'object' ? a.who : a)).filter((w) => typeof w === 'string');
  const needed = (e) => (typeof e.approvals_needed === 'number' && e.approvals_needed > 0
    ? e.approvals_needed : 1);
  const ORDINAL = ['first', 'second', 'third', 'fourth', 'fifth'];
  // 'waiting for a second approver' (or 'for 2 more approvers'), or null
  // when no approval is recorded yet or the quorum is complete.
  function waitingText(e) {
    const have = approvers(e).length;
    const left = needed(e) - have;
    if (have === 0 || left <= 0)
      return null;
    return left === 1 ? `waiting for a ${ORDINAL[have] || `${have + 1}th`} approver`
      : `waiting for ${left} more approvers`;
  }

  // The rule whose effect made the decision escalate ('' when the
  // workflow's default did), as a standing approval's scope names it.
  function escalatingRule(e, fired) {
    if (typeof e.rule === 'string')
      return e.rule;
    const f = fired.find((x) => x.effect === 'escalate' && x.kind !== 'boundary');
    return f && f.id ? String(f.id) : '';
  }

  // The pages' style sheet (pages.css holds the inbox's quorum, grant and
  // notification pieces too); added once, as decisions.js does.
  function ensureCss() {
    if (!document.querySelector('link[data-pages-css]'))
      document.head.append(el('link', { rel: 'stylesheet', href: '/console/pages.css',
        'data-pages-css': '' }));
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
    ensureCss();
    const ui = {
      items: [],          // the listing, earliest deadline first
      selected: params.id || null, // decision_id ('#/inbox?id=d-7' asks for one)
      wanted: params.id || null,   // the linked item, until the first listing says where it is
      version: null,
      detailFor: null,    // the decision_id the detail shows
      detailKey: null,    // what of it the detail showed (approvals, may_approve)
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
    // Notifications that keep failing (hidden while there are none).
    const failing = el('section', { class: 'notify-failing', hidden: true,
      'aria-labelledby': 'inbox-failing-title', 'data-testid': 'inbox-notify-failures' });
    // What became of the item a link asked for when it is not in the list.
    const linkNotice = el('p', { class: 'link-notice', role: 'status', hidden: true,
      'data-testid': 'inbox-link-notice' });
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
      failing, linkNotice,
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
      const wanted = ui.wanted;
      ui.wanted = null;
      if (wanted && !items.some((e) => e.decision_id === wanted))
        explainMissing(wanted);
      if (!items.some((e) => e.decision_id === ui.selected))
        ui.selected = items.length ? items[0].decision_id : null;
      const total = typeof body.total === 'number' ? body.total : items.length;
      count.textContent = items.length === 0 ? 'Nothing waiting for a person.'
        : `${total} open escalation${total === 1 ? '' : 's'}` +
          (total > items.length ? ` (the first ${items.length} shown)` : '') + ', earliest deadline first.';
      drawList();
      const sel = items.find((e) => e.decision_id === ui.selected);
      if (ui.selected !== ui.detailFor)
        drawDetail(before && before !== ui.selected && ui.detailFor === before ?
          `${before} is no longer open (resolved, timed out or moved).` : null);
      else if (sel && detailKey(sel) !== ui.detailKey)
        drawDetail(null, true); // a vote came in meanwhile: show it, keep the note
      if (wanted && wanted === ui.selected) {
        const b = list.querySelector(`[data-id="${CSS.escape(wanted)}"]`);
        if (b) {
          b.focus();
          b.scrollIntoView({ block: 'nearest' });
        }
      }
    }

    // The linked item is not among the open ones listed: say what became of
    // it (from its decision, when this key may read it).
    async function explainMissing(id) {
      linkNotice.hidden = false;
      linkNotice.textContent = `${id} is not in this list; reading it…`;
      const r = await C.api('GET', `/v1/decisions/${encodeURIComponent(id)}`);
      if (ui.gone)
        return;
      const x = r.status === 200 && r.body && r.body.escalation;
      if (x && x.status && x.status !== 'open')
        linkNotice.textContent = `${id} is no longer open: ${x.status}` +
          (x.resolved_by ? ` by ${x.resolved_by}` : '') +
          (x.resolved_at ? ` at ${C.fmtTime(x.resolved_at)}` : '') +
          (x.note ? ` (note: "${x.note}")` : '') + '.';
      else if (x && x.status === 'open')
        linkNotice.textContent = `${id} is open in queue ${x.queue || '?'}, which the filters or your ` +
          'queues leave out of this list.';
      else if (r.status === 200)
        linkNotice.textContent = `${id} is a decision that did not escalate.`;
      else
        linkNotice.textContent = `${id} cannot be shown: ${C.errorText(r)}.`;
    }

    // What of an item the detail depends on besides its request: a change
    // (a vote by someone else) redraws it.
    const detailKey = (e) => JSON.stringify([approvers(e), e.approvals_needed, e.may_approve,
      e.may_approve_why]);

    function drawList() {
      const focusedId = document.activeElement && document.activeElement.dataset &&
        document.activeElement.dataset.id;
      const nodes = ui.items.map((e) => el('li', {},
        el('button', { type: 'button', class: 'inbox-item', 'data-testid': 'inbox-item',
          'data-id': e.decision_id, 'aria-current': e.decision_id === ui.selected ? 'true' : null,
          onclick: () => select(e.decision_id, true) },
        el('span', { class: 'line1' }, `${e.workflow} / ${e.action}`,
          needed(e) > 1 ? el('span', { class: 'quorum-badge', 'data-testid': 'inbox-item-quorum',
            title: `${approvers(e).length} of ${needed(e)} approvals` },
          `${approvers(e).length} of ${needed(e)}`) : null),
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
    // drawDetail(notice, keep): draws the selected item; keep: a redraw of
    // the same item (a vote came in), keeping the note being written.
    async function drawDetail(notice, keep) {
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
      ui.detailKey = detailKey(e);

      // The queue's policy: who may approve, whether a note is required.
      const policy = e.policy && typeof e.policy === 'object' ? e.policy : {};
      const noteAlways = policy.require_note === 'always';
      const names = approvers(e);
      const waiting = waitingText(e);
      const approveWhy = names.includes(me.name)
        ? `You approved it; ${waiting || 'its quorum needs another approver'}.`
        : e.may_approve === false ? (e.may_approve_why || 'You may not approve this escalation.') : '';
      const kept = keep ? detail.querySelector('#inbox-note') : null;
      const focused = kept && document.activeElement === kept;
      const note = el('textarea', { id: 'inbox-note', 'data-testid': 'inbox-note', rows: 2,
        'aria-describedby': 'inbox-note-help', 'aria-required': noteAlways ? 'true' : null });
      if (kept)
        note.value = kept.value;
      const err = el('p', { class: 'error', role: 'alert', 'data-testid': 'inbox-error' }, notice || '');
      const buttons = [];
      const approve = el('button', { type: 'button', class: 'approve', 'data-testid': 'inbox-approve',
        disabled: Boolean(approveWhy), 'data-off': approveWhy ? '1' : null,
        'aria-describedby': approveWhy ? 'inbox-approve-why' : null,
        onclick: () => resolve(e, 'approve', note, err, buttons) }, 'Approve');
      const deny = el('button', { type: 'button', class: 'deny', 'data-testid': 'inbox-deny',
        onclick: () => resolve(e, 'deny', note, err, buttons) }, 'Deny');
      buttons.push(approve, deny);
      const labels = () => {
        const empty = !note.value.trim();
        approve.textContent = noteAlways && empty ? 'Approve (write a note first)' : 'Approve';
        deny.textContent = empty ? 'Deny (write a note first)' : 'Deny';
      };
      labels();
      note.addEventListener('input', labels);

      // Approvals so far, when the quorum needs more than one.
      const quorum = needed(e) > 1 ? el('section', { class: 'quorum', 'data-testid': 'inbox-quorum-box' },
        el('h3', {}, 'Approvals'),
        el('p', { 'data-testid': 'inbox-quorum' }, `Approvals ${names.length} of ${needed(e)}` +
          (names.length ? `: ${names.join(', ')}` : '')),
        waiting ? el('p', { class: 'waiting', 'data-testid': 'inbox-waiting' },
          `${waiting[0].toUpperCase()}${waiting.slice(1)}.`)
          : el('p', { class: 'muted' }, `${needed(e)} different people must approve it; one deny denies it.`))
        : null;
      const maxHours = policy.standing_approvals_max_hours;
      const grant = canResolve && !approveWhy && needed(e) === 1 && typeof maxHours === 'number' && maxHours > 0
        ? grantForm(e, fired, maxHours, noteAlways, note, buttons) : null;

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
          quorum,
          canResolve ? el('div', { class: 'resolve', 'data-testid': 'inbox-resolve' },
            el('label', { for: 'inbox-note' }, noteAlways ? 'Note (required)' : 'Note'),
            note,
            el('p', { id: 'inbox-note-help', class: 'help', 'data-testid': 'inbox-note-help' },
              noteAlways ? 'Kept in the ledger with your name. This queue requires a note to approve and to deny.'
                : 'Kept in the ledger with your name. Required to deny; optional to approve.'),
            el('div', { class: 'buttons' }, approve, deny),
            approveWhy ? el('p', { id: 'inbox-approve-why', class: 'approve-why',
              'data-testid': 'inbox-approve-why' }, approveWhy) : null,
            err,
            grant)
            : el('p', { class: 'readonly' }, 'Read-only: you cannot resolve this escalation.')))));
      if (focused)
        note.focus();
    }

    // "Approve and allow the same for...": the hours (at most the queue's
    // standing_approvals max), optional caps, and the exact scope the
    // standing approval will cover, shown before confirming.
    function grantForm(e, fired, maxHours, noteAlways, note, buttons) {
      const rule = escalatingRule(e, fired);
      const start = Math.min(1, maxHours);
      const hours = el('input', { type: 'number', id: 'grant-hours', name: 'hours', min: '0', max: String(maxHours),
        step: 'any', value: String(start), required: true, 'aria-describedby': 'grant-hours-help',
        'data-testid': 'inbox-grant-hours' });
      const maxCount = el('input', { type: 'number', id: 'grant-max-count', name: 'max_count', min: '1', step: '1',
        'aria-describedby': 'grant-caps-help', 'data-testid': 'inbox-grant-max-count' });
      const maxAmount = el('input', { type: 'number', id: 'grant-max-amount', name: 'max_amount', min: '0',
        step: 'any', 'aria-describedby': 'grant-caps-help', 'data-testid': 'inbox-grant-max-amount' });
      const gerr = el('p', { class: 'error', role: 'alert', 'data-testid': 'inbox-grant-error' });
      const confirm = el('button', { type: 'button', class: 'approve', 'data-testid': 'inbox-grant-confirm',
        onclick: () => grant(e, { hours, maxCount, maxAmount, maxHours, noteAlways }, note, gerr,
          [...buttons, confirm]) });
      const label = () => {
        const h = Number(hours.value);
        confirm.textContent = h > 0 ? `Approve and allow the same for ${h} hour${h === 1 ? '' : 's'}`
          : 'Approve and allow the same';
      };
      label();
      hours.addEventListener('input', label);
      const row = (id, text, input, help) => el('div', { class: 'field' },
        el('label', { for: id }, text), input, help || null);
      return el('details', { class: 'grant', 'data-testid': 'inbox-grant' },
        el('summary', { 'data-testid': 'inbox-grant-open' }, 'Approve and allow the same for…'),
        el('p', { class: 'help' }, 'Approves this escalation and, until the time is up, every escalation ' +
          'of exactly this scope, in your name (each still checked against the charter\'s boundaries and ' +
          `budgets). You or another approver of ${e.queue} can revoke it under Standing approvals.`),
        el('dl', { class: 'kv scope', 'data-testid': 'inbox-grant-scope', 'aria-label': 'Scope of the standing approval' },
          el('dt', {}, 'queue'), el('dd', { 'data-scope': 'queue' }, show(e.queue)),
          el('dt', {}, 'agent'), el('dd', { 'data-scope': 'agent' }, show(e.agent)),
          el('dt', {}, 'workflow'), el('dd', { 'data-scope': 'workflow' }, show(e.workflow)),
          el('dt', {}, 'action'), el('dd', { 'data-scope': 'action' }, show(e.action)),
          el('dt', {}, 'rule'), el('dd', { 'data-scope': 'rule' },
            rule || '(none: the workflow\'s default escalated it)')),
        el('div', { class: 'grant-fields' },
          row('grant-hours', 'Hours', hours, el('span', { id: 'grant-hours-help', class: 'help' },
            `at most ${maxHours}`)),
          row('grant-max-count', 'At most this many more (optional)', maxCount),
          row('grant-max-amount', 'At most this total amount (optional)', maxAmount)),
        el('p', { id: 'grant-caps-help', class: 'help' }, 'Without a cap it approves every matching ' +
          'escalation until it expires. The note above is kept with the approval and the standing approval.'),
        confirm, gerr);
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

    // Buttons back to what the policy allows (Approve stays disabled when
    // this person may not approve).
    const enable = (buttons, on) => {
      for (const b of buttons)
        b.disabled = !on || b.dataset.off === '1';
    };

    // The item is done (resolved, or approved by a grant): off the list, the
    // next one selected.
    async function done(e) {
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
    }

    async function resolve(e, resolution, note, err, buttons) {
      if (ui.busy)
        return;
      const text = note.value.trim();
      const always = e.policy && e.policy.require_note === 'always';
      if ((resolution === 'deny' || always) && !text) {
        err.textContent = resolution === 'deny'
          ? 'A note is required to deny: say why, for the agent and the ledger.'
          : `A note is required to approve: queue ${e.queue} keeps a note with every resolution.`;
        C.toast(`Not ${resolution === 'deny' ? 'denied' : 'approved'}: a note is required to ${resolution}.`, 'error');
        note.focus();
        return;
      }
      ui.busy = true;
      enable(buttons, false);
      const body = { resolution };
      if (text)
        body.note = text;
      const r = await C.api('POST', `/v1/escalations/${encodeURIComponent(e.decision_id)}/resolve`, body);
      ui.busy = false;
      enable(buttons, true);
      if (r.status === 200) {
        const status = r.body && r.body.status ? r.body.status : `${resolution}d`;
        const who = r.body ? approvers(r.body) : [];
        C.toast(`${e.decision_id} ${status}${who.length > 1 ? ` (${who.join(', ')})` : ''}.`);
        await done(e);
      } else if (r.status === 202) {
        // One vote of a quorum: the escalation stays open, with this vote.
        const got = r.body && typeof r.body === 'object' ? (r.body.escalation || r.body) : {};
        const upd = Object.assign({}, e, got);
        if (!approvers(upd).includes(me.name))
          upd.approvals = [...approvers(e).map((w) => ({ who: w })), { who: me.name }];
        ui.items = ui.items.map((x) => (x.decision_id === e.decision_id ? upd : x));
        C.toast(`${e.decision_id}: your approval is recorded (${approvers(upd).length} of ${needed(upd)}); ` +
          `${waitingText(upd) || 'waiting for another approver'}.`);
        drawList();
        await drawDetail();
      } else {
        const why = refusedText(r);
        err.textContent = `Not ${resolution === 'approve' ? 'approved' : 'denied'}: ${why}`;
        C.toast(`${e.decision_id}: ${why}`, 'error');
      }
    }

    // Approve and record a standing approval (POST .../grant).
    async function grant(e, f, note, gerr, buttons) {
      if (ui.busy)
        return;
      const bad = (text, field) => {
        gerr.textContent = text;
        C.toast(`Not approved: ${text}`, 'error');
        field.focus();
      };
      const hours = Number(f.hours.value);
      if (f.hours.value.trim() === '' || !(hours > 0) || hours > f.maxHours)
        return bad(`the hours must be more than 0 and at most ${f.maxHours} (the longest standing approval ` +
          `queue ${e.queue} allows).`, f.hours);
      const body = { hours };
      if (f.maxCount.value.trim() !== '') {
        const n = Number(f.maxCount.value);
        if (!Number.isInteger(n) || n < 1)
          return bad('the most it may approve must be a whole number, 1 or more (or left empty: no cap).', f.maxCount);
        body.max_count = n;
      }
      if (f.maxAmount.value.trim() !== '') {
        const x = Number(f.maxAmount.value);
        if (!(x > 0))
          return bad('the total amount must be a number above 0 (or left empty: no cap).', f.maxAmount);
        body.max_amount = x;
      }
      const text = note.value.trim();
      if (f.noteAlways && !text)
        return bad(`a note is required: queue ${e.queue} keeps a note with every resolution.`, note);
      if (text)
        body.note = text;
      ui.busy = true;
      enable(buttons, false);
      const r = await C.api('POST', `/v1/escalations/${encodeURIComponent(e.decision_id)}/grant`, body);
      ui.busy = false;
      enable(buttons, true);
      if (r.status === 201 || r.status === 200) {
        const g = (r.body && r.body.grant) || {};
        C.toast(`${e.decision_id} approved; standing approval ${g.id || ''} allows the same ` +
          `until ${C.fmtTime(g.expires) || `${hours} hours from now`}.`);
        await done(e);
      } else {
        const why = refusedText(r);
        gerr.textContent = `Not approved: ${why}`;
        C.toast(`${e.decision_id}: ${why}`, 'error');
      }
    }

    // ---- notifications that keep failing -----------------------------------------------
    // Read at the start and every 30 s; hidden while there are none, and for
    // good when the server has no such endpoint (404) or the key may not read
    // it (403).
    async function loadFailing() {
      if (ui.gone)
        return;
      const r = await C.api('GET', `/v1/notifications?status=failing&limit=${FAILING_SHOWN}`);
      if (ui.gone)
        return;
      if (r.status === 404 || r.status === 403 || r.status === 401) {
        failing.hidden = true;
        return; // not on this server, or not for this key: stop asking
      }
      const rows = r.status === 200 && r.body && Array.isArray(r.body.notifications) ? r.body.notifications : null;
      if (rows) {
        const n = typeof r.body.failing === 'number' ? Math.max(r.body.failing, rows.length) : rows.length;
        drawFailing(rows, n);
      }
      ui.failTimer = setTimeout(loadFailing, FAILING_POLL);
    }

    function drawFailing(rows, n) {
      if (n === 0) {
        failing.hidden = true;
        failing.replaceChildren();
        return;
      }
      const item = (x) => el('li', { 'data-testid': 'inbox-notify-failure', 'data-id': show(x.id) },
        el('strong', {}, show(x.event) || 'notification'), ' for ',
        x.decision_id ? el('a', { href: `#/inbox?id=${encodeURIComponent(x.decision_id)}` }, show(x.decision_id))
          : '?',
        x.queue ? ` (queue ${show(x.queue)})` : '', ' to ', el('code', {}, show(x.target)),
        x.format ? ` as ${show(x.format)}` : '', `: ${Number(x.attempts) || 0} failed attempt` +
          `${Number(x.attempts) === 1 ? '' : 's'}`,
        x.next_attempt ? `, next ${C.fmtTime(x.next_attempt)}` : '',
        el('br', {}),
        el('span', { class: 'last-error', 'data-testid': 'inbox-notify-error' },
          `Last error: ${show(x.last_error) || '(none recorded)'}`));
      failing.replaceChildren(
        el('h2', { id: 'inbox-failing-title' },
          `${n} notification${n === 1 ? '' : 's'} failing: the people of these queues may not know ` +
          'something is waiting'),
        el('ul', {}, rows.map(item)),
        el('p', { class: 'help', hidden: n <= rows.length }, `The first ${rows.length} shown.`));
      failing.hidden = false;
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
    loadFailing();
    return () => {
      ui.gone = true;
      if (ui.abort)
        ui.abort.abort();
      clearTimeout(ui.timer);
      clearTimeout(ui.failTimer);
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
