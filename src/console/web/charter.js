// charter.js - the console's charter pages, for admins and auditors:
// '#/charter' (the running version for people, or '#/charter?version=V' a
// recorded one; its warnings, the consistency findings, every version that
// ever decided), '#/charter/diff?from=V1&to=V2' (what changed between two
// recorded versions, computed here from their canonical JSON: items matched
// by id, fields old -> new) and '#/replay' (a draft charter from files the
// person chooses, replayed over recorded decisions by POST /v1/replay).
'use strict';

(() => {
  const { el, api, page, go, fmtTime } = window.Charter;
  const P = window.CharterPages;
  const { table, fmtNum, kv, notAvailable, query, decisionHref, tag, put, fill } = P;
  const errorText = window.Charter.errorText || ((r) => `the server answered ${r.status}`);
  P.ensureCss();

  const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
  const list = (v) => (Array.isArray(v) && v.length ? v.join(', ') : '–');

  // 14400000 -> '4h'; 86400000 -> '1d'; 5400000 -> '1h 30m'.
  function fmtMs(ms) {
    if (typeof ms !== 'number')
      return '–';
    const units = [['d', 86400000], ['h', 3600000], ['m', 60000], ['s', 1000]];
    const out = [];
    let rest = ms;
    for (const [u, n] of units) {
      if (rest >= n) {
        out.push(`${Math.floor(rest / n)}${u}`);
        rest %= n;
      }
    }
    return out.join(' ') || `${ms}ms`;
  }

  const versionHref = (v) => `#/charter?version=${encodeURIComponent(v)}`;
  const short = (v) => (typeof v === 'string' && v.startsWith('sha256:') ? `${v.slice(0, 19)}…` : String(v));

  // ---- the charter for people ----------------------------------------------------

  function section(title, testid, ...children) {
    return el('section', { class: 'charter-section', 'aria-label': title, 'data-testid': testid },
      el('h2', {}, title), children);
  }

  function valuesList(c) {
    const vs = c.values || [];
    return el('ol', { class: 'values', 'data-testid': 'charter-values' }, vs.map((v) =>
      el('li', { 'data-testid': 'charter-value', 'data-id': v.id },
        el('strong', {}, v.id), v.statement ? ` — ${v.statement}` : '',
        (v.metrics || []).length ? el('span', { class: 'muted' }, ` (metrics: ${v.metrics.join(', ')})`) : null)));
  }

  function goalsBlock(c) {
    return (c.goals || []).map((g) => el('div', { class: 'card item' },
      el('h3', {}, g.id), g.objective ? el('p', {}, g.objective) : null,
      el('p', { class: 'muted' }, `Serves: ${list(g.serves)}`),
      table(null, [
        { head: 'Metric', cell: (m) => m.metric },
        { head: 'Kind', cell: (m) => m.kind },
        { head: 'Target or limits', cell: (m) => m.limits },
      ], (g.outcomes || []).map((o) => ({ metric: o.metric, kind: 'outcome',
        limits: `target ${fmtNum(o.target)}, ${o.direction || ''}` }))
        .concat((g.health || []).map((h) => ({ metric: h.metric, kind: 'health',
          limits: [h.min !== null && h.min !== undefined ? `min ${fmtNum(h.min)}` : null,
            h.max !== null && h.max !== undefined ? `max ${fmtNum(h.max)}` : null].filter(Boolean).join(', ') || '–' }))))));
  }

  function workflowsBlock(c) {
    const classes = ['agent-ready', 'agent-augmented', 'human-only'];
    const wfs = c.workflows || [];
    const others = [...new Set(wfs.map((w) => w.autonomy).filter((a) => !classes.includes(a)))];
    return classes.concat(others).map((cls) => {
      const mine = wfs.filter((w) => w.autonomy === cls);
      return el('div', { class: 'autonomy-group', 'data-testid': `charter-autonomy-${cls}` },
        el('h3', {}, `${cls} (${mine.length})`),
        mine.length === 0 ? el('p', { class: 'muted' }, 'none') : table(null, [
          { head: 'Workflow', cell: (w) => [el('strong', {}, w.id), el('br'),
            el('span', { class: 'muted' }, [w.department, w.owner].filter(Boolean).join(' · '))] },
          { head: 'Description', cell: (w) => w.description || '' },
          { head: 'Actions', cell: (w) => list(w.actions) },
          { head: 'Goals', cell: (w) => list(w.goals) },
          { head: 'Default', cell: (w) => (w.default ? tag(w.default) : '') },
          { head: 'Escalates to', cell: (w) => w.escalate_to || '–' },
          { head: 'Stop rules', cell: (w) => ((w.stop_rules || []).length ? el('ul', { class: 'plain' },
            w.stop_rules.map((s) => el('li', {}, el('strong', {}, s.id), ': ', s.message || '',
              el('br'), el('span', { class: 'muted mono' }, Object.entries(s)
                .filter(([k, v]) => v !== null && !['id', 'message'].includes(k))
                .map(([k, v]) => `${k}: ${v}`).join('; '))))) : '–') },
        ], mine));
    });
  }

  function renderCharterBody(box, c) {
    const q = c.escalation || {};
    put(box, 
      c.organization ? section('Organization', 'charter-organization', kv(c.organization,
        { first: ['name', 'purpose', 'context'] })) : null,
      section('Values, in rank order', 'charter-values-section', valuesList(c)),
      section('Goals', 'charter-goals', goalsBlock(c)),
      section('Workflows by autonomy class', 'charter-workflows', workflowsBlock(c)),
      section('Boundaries (hard limits, never approved away)', 'charter-boundaries', table(null, [
        { head: 'Boundary', cell: (b) => b.id },
        { head: 'Message', cell: (b) => b.message || '' },
        { head: 'Source', cell: (b) => b.source || '' },
        { head: 'Applies to', cell: (b) => `workflows: ${list(b.workflows)}; actions: ${list(b.actions)}` },
        { head: 'When', cell: (b) => el('code', {}, b.when || 'always') },
        { head: 'Protects', cell: (b) => b.protects || '' },
      ], c.boundaries || [])),
      section('Rules', 'charter-rules', table(null, [
        { head: 'Rule', cell: (r) => r.id },
        { head: 'Effect', cell: (r) => [tag(r.effect || '?'), r.escalate_to ? ` to ${r.escalate_to}` : null] },
        { head: 'Applies to', cell: (r) => `workflows: ${list(r.workflows)}; actions: ${list(r.actions)}` },
        { head: 'When', cell: (r) => el('code', {}, r.when || 'always') },
        { head: 'Protects', cell: (r) => r.protects || '' },
        { head: 'Message', cell: (r) => r.message || '' },
        { head: 'Obligations', cell: (r) => list(r.obligations) },
      ], c.rules || [], 'charter-rules-table')),
      section('Escalation queues', 'charter-queues',
        q.default ? el('p', {}, 'Default queue: ', el('strong', {}, q.default)) : null,
        table(null, [
          { head: 'Queue', cell: (x) => [el('strong', {}, x.id), x.description ? [el('br'),
            el('span', { class: 'muted' }, x.description)] : null] },
          { head: 'Approvers', cell: (x) => `roles: ${list(x.approvers && x.approvers.roles)}; ` +
            `members: ${list(x.approvers && x.approvers.members)}` },
          { head: 'SLA', cell: (x) => fmtMs(x.sla_ms) },
          { head: 'On timeout', cell: (x) => `${x.on_timeout || '–'}${x.next ? ` (to ${x.next})` : ''}` },
          // notify: one webhook URL, or a list of {url, format} (charter-reference.md).
          { head: 'Notify', cell: (x) => (Array.isArray(x.notify)
            ? x.notify.map((t) => (t.format === 'webhook' ? t.url : `${t.url} (${t.format})`)).join(', ')
            : x.notify) || '–' },
        ], q.queues || [])),
      section('Agents', 'charter-agents', table(null, [
        { head: 'Agent', cell: (a) => a.id },
        { head: 'Department', cell: (a) => a.department || '' },
        { head: 'Owner', cell: (a) => a.owner || '' },
        { head: 'Workflows', cell: (a) => list(a.workflows) },
        { head: 'Description', cell: (a) => a.description || '' },
      ], c.agents || [])),
      c.readiness ? section('Readiness thresholds', 'charter-readiness', kv(c.readiness)) : null);
  }

  function warningsBlock(ws) {
    return section('Warnings (load and check)', 'charter-warnings',
      ws.length === 0 ? el('p', { class: 'calm' }, 'No warnings.')
        : el('ul', { class: 'warnings' }, ws.map((w) => el('li', {},
          el('span', { class: 'tag escalate' }, w.code || 'warning'), ' ', w.message || '',
          w.where ? el('span', { class: 'muted mono' }, ` (${w.where})`) : null))));
  }

  function consistencyBlock(r) {
    if (r.status !== 200 || !isObj(r.body))
      return section('Consistency of judgment', 'charter-consistency',
        notAvailable('The consistency findings (GET /v1/consistency)', r));
    const b = r.body;
    const ds = b.disagreements || [];
    const nf = b.never_fire || [];
    return section('Consistency of judgment', 'charter-consistency',
      el('p', {}, `${ds.length} disagreement${ds.length === 1 ? '' : 's'} between workflows` +
        (b.disagreeing_cases_not_listed ? ` (and ${b.disagreeing_cases_not_listed} cases not listed)` : '') +
        `; ${(b.autonomy_differences || []).length} differences by autonomy class alone (by design); ` +
        `${nf.length} rule${nf.length === 1 ? '' : 's'} that never decide.`),
      ds.length ? el('ol', {}, ds.map((d) => el('li', {},
        el('strong', {}, d.action), `: ${(d.sides || []).map((s) => `${s.workflow} ${s.decision}` +
          `${(s.fired || []).length ? ` (${s.fired.join(', ')})` : ''}`).join(' vs ')}; ${d.cases} case${d.cases === 1 ? '' : 's'}` +
          `${(d.because || []).length ? `; because of ${d.because.join(', ')}` : ''}`,
        d.example ? el('details', {}, el('summary', {}, 'Example request'), kv(d.example)) : null))) : null,
      nf.length ? [el('h3', {}, 'Rules that never decide'), el('ul', {}, nf.map((n) => el('li', {},
        el('strong', {}, n.rule), ` (${n.effect || ''}, ${n.file || '?'}:${n.line || '?'}): holds in ${n.cases} cases, ` +
        `each decided first by ${list(n.preempted_by)}`)))] : null);
  }

  function versionsBlock(r, shown) {
    if (r.status !== 200 || !isObj(r.body) || !Array.isArray(r.body.charters))
      return section('Every version that decided', 'charter-versions',
        notAvailable('The list of charter versions (GET /v1/charters)', r));
    const vs = r.body.charters;
    const opts = (sel) => vs.map((v) => el('option', { value: v.version, selected: v.version === sel },
      `${short(v.version)} ${v.current ? '(current) ' : ''}first seen ${fmtTime(v.first_seen)}`));
    const from = el('select', { id: 'cv-from', name: 'from', 'data-testid': 'diff-from' },
      opts(vs.length > 1 ? vs[1].version : (vs[0] || {}).version));
    const to = el('select', { id: 'cv-to', name: 'to', 'data-testid': 'diff-to' }, opts((vs[0] || {}).version));
    return section('Every version that decided', 'charter-versions',
      table(null, [
        { head: 'Version', cell: (v) => el('a', { href: versionHref(v.version), class: 'mono',
          'aria-current': v.version === shown ? 'page' : null }, short(v.version)) },
        { head: 'Name', cell: (v) => v.name || '' },
        { head: 'First seen', cell: (v) => fmtTime(v.first_seen) },
        { head: 'Ledger entry', num: true, cell: (v) => fmtNum(v.seq) },
        { head: 'Serving', cell: (v) => (v.current ? tag('current') : '') },
      ], vs, 'charter-versions-table'),
      vs.length > 1 ? el('form', { class: 'filters', 'aria-label': 'Compare two versions',
        'data-testid': 'diff-form',
        onsubmit: (ev) => {
          ev.preventDefault();
          go(`#/charter/diff?${query({ from: from.value, to: to.value }, ['from', 'to'])}`);
        } },
      el('div', { class: 'field' }, el('label', { for: 'cv-from' }, 'From version'), from),
      el('div', { class: 'field' }, el('label', { for: 'cv-to' }, 'To version'), to),
      el('div', { class: 'field' }, el('button', { type: 'submit', class: 'primary',
        'data-testid': 'diff-compare' }, 'Compare'))) : el('p', { class: 'muted' }, 'Only one version so far.'));
  }

  async function renderCharter(box, params) {
    box.classList.add('pages');
    put(box, el('h1', {}, 'Charter'));
    let body = null;
    let warnings = null;
    let current = !params.version;
    if (params.version) {
      const r = await api('GET', `/v1/charters/${encodeURIComponent(params.version)}`);
      if (r.status !== 200 || !isObj(r.body) || !isObj(r.body.charter)) {
        put(box, r.status === 404 && r.body && r.body.error && /version|charter/i.test(r.body.error.message || '')
          ? el('p', { class: 'error', role: 'alert' }, `No recorded charter version ${params.version}.`)
          : notAvailable(`Charter version ${params.version} (GET /v1/charters/{version})`, r));
      } else {
        body = r.body;
      }
    }
    const [running, versions, consistency] = await Promise.all([
      params.version ? Promise.resolve(null) : api('GET', '/v1/charter'), api('GET', '/v1/charters'),
      current ? api('GET', '/v1/consistency') : Promise.resolve(null)]);
    if (running && running.status === 200 && isObj(running.body) && isObj(running.body.charter)) {
      body = running.body;
      warnings = Array.isArray(running.body.warnings) ? running.body.warnings : [];
    } else if (running) {
      // Without GET /v1/charter, the version the list marks current.
      const cur = versions.status === 200 && isObj(versions.body) && Array.isArray(versions.body.charters)
        && versions.body.charters.find((v) => v.current);
      const r = cur ? await api('GET', `/v1/charters/${encodeURIComponent(cur.version)}`) : null;
      if (r && r.status === 200 && isObj(r.body) && isObj(r.body.charter))
        body = r.body;
      put(box, notAvailable('The running charter with its warnings (GET /v1/charter)', running));
    }
    if (body) {
      const c = body.charter;
      const cur = versions.status === 200 && versions.body && Array.isArray(versions.body.charters)
        && versions.body.charters.find((v) => v.current);
      if (cur && cur.version === body.version)
        current = true;
      put(box, el('p', { class: 'lead', 'data-testid': 'charter-version' },
        el('strong', {}, body.name || (c.organization && c.organization.name) || ''), ' · version ',
        el('span', { class: 'mono' }, body.version || '?'), ' ',
        current ? tag('current') : el('span', { class: 'tag' }, 'recorded, not serving now')));
      if (warnings)
        put(box, warningsBlock(warnings));
      if (consistency)
        put(box, consistencyBlock(consistency));
      renderCharterBody(box, c);
    }
    put(box, versionsBlock(versions, body && body.version));
  }

  page('charter', { title: 'Charter', roles: ['admin', 'auditor'], render: renderCharter });

  // ---- the difference of two versions ---------------------------------------------

  const isIdList = (v) => Array.isArray(v) && v.every((x) => isObj(x) && typeof x.id === 'string');
  const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

  // The fields that differ between a and b (objects), as [{path, old, new}];
  // nested objects by dotted path, lists of items with ids by item.
  function fieldChanges(a, b, prefix) {
    const out = [];
    if (isObj(a) && isObj(b)) {
      for (const k of [...new Set(Object.keys(a).concat(Object.keys(b)))].sort())
        out.push(...fieldChanges(a[k], b[k], prefix ? `${prefix}.${k}` : k));
    } else if (isIdList(a) && isIdList(b) && !same(a, b)) {
      const ids = [...new Set(a.map((x) => x.id).concat(b.map((x) => x.id)))];
      for (const id of ids)
        out.push(...fieldChanges(a.find((x) => x.id === id) || null, b.find((x) => x.id === id) || null,
          `${prefix}[${id}]`));
    } else if (!same(a, b)) {
      out.push({ path: prefix, old: a, new: b });
    }
    return out;
  }

  // One section's changes: items with ids matched by id (a value's rank is
  // its place in the list); anything else field by field.
  function diffSection(name, a, b) {
    const res = { name, added: [], removed: [], changed: [] };
    if ((isIdList(a) || a === undefined) && (isIdList(b) || b === undefined) && (a || b)) {
      const ranked = name === 'values';
      const prep = (xs) => (xs || []).map((x, i) => (ranked ? Object.assign({ rank: i + 1 }, x) : x));
      const A = prep(a);
      const B = prep(b);
      for (const x of B)
        if (!A.some((y) => y.id === x.id))
          res.added.push(x);
      for (const x of A)
        if (!B.some((y) => y.id === x.id))
          res.removed.push(x);
      for (const x of A) {
        const y = B.find((z) => z.id === x.id);
        if (y && !same(x, y))
          res.changed.push({ id: x.id, fields: fieldChanges(x, y, '') });
      }
      return [res];
    }
    if (isObj(a) && isObj(b)) { // e.g. escalation: {default, queues: [...]}
      const out = [];
      const fields = [];
      for (const k of [...new Set(Object.keys(a).concat(Object.keys(b)))].sort()) {
        if (isIdList(a[k]) || isIdList(b[k]))
          out.push(...diffSection(`${name}.${k}`, a[k], b[k]));
        else
          fields.push(...fieldChanges(a[k], b[k], k));
      }
      if (fields.length)
        res.changed.push({ id: '(section)', fields });
      return [res].concat(out);
    }
    if (!same(a, b))
      res.changed.push({ id: '(section)', fields: [{ path: name, old: a, new: b }] });
    return [res];
  }

  // diffCharters(a, b) -> sections with changes, in the order of the charter.
  function diffCharters(a, b) {
    const order = ['organization', 'values', 'goals', 'workflows', 'agents', 'boundaries', 'rules',
      'escalation', 'readiness', 'charter'];
    const keys = order.concat([...new Set(Object.keys(a).concat(Object.keys(b)))].filter((k) => !order.includes(k)).sort());
    const out = [];
    for (const k of keys)
      if (a[k] !== undefined || b[k] !== undefined)
        out.push(...diffSection(k, a[k], b[k]));
    return out.filter((s) => s.added.length || s.removed.length || s.changed.length);
  }

  const show = (v) => (v === undefined ? '(absent)' : typeof v === 'string' ? v : JSON.stringify(v));

  function renderDiffSections(sections) {
    if (sections.length === 0)
      return el('p', { class: 'calm', 'data-testid': 'diff-none' }, 'The two versions say the same.');
    return sections.map((s) => el('section', { class: 'charter-section', 'data-testid': `diff-section-${s.name}` },
      el('h2', {}, s.name),
      s.added.length ? el('div', {}, el('h3', {}, 'Added'), el('ul', {}, s.added.map((x) =>
        el('li', { class: 'added', 'data-testid': 'diff-added', 'data-id': x.id }, el('strong', {}, `+ ${x.id}`),
          el('details', {}, el('summary', {}, 'all fields'), kv(x)))))) : null,
      s.removed.length ? el('div', {}, el('h3', {}, 'Removed'), el('ul', {}, s.removed.map((x) =>
        el('li', { class: 'removed', 'data-testid': 'diff-removed', 'data-id': x.id }, el('strong', {}, `− ${x.id}`))))) : null,
      s.changed.length ? el('div', {}, el('h3', {}, 'Changed'), s.changed.map((c) =>
        el('div', { class: 'changed', 'data-testid': 'diff-changed', 'data-id': c.id },
          el('h4', {}, c.id),
          table(null, [
            { head: 'Field', cell: (f) => el('code', {}, f.path || '(value)') },
            { head: 'Old', cell: (f) => el('span', { class: 'old' }, show(f.old)) },
            { head: 'New', cell: (f) => el('span', { class: 'new' }, show(f.new)) },
          ], c.fields)))) : null));
  }

  async function renderDiff(box, params) {
    box.classList.add('pages');
    put(box, el('p', {}, el('a', { href: '#/charter' }, '← Charter')),
      el('h1', {}, 'Difference of two charter versions'));
    if (!params.from || !params.to) {
      put(box, el('p', {}, 'Choose two versions on the charter page.'));
      return;
    }
    put(box, el('p', { 'data-testid': 'diff-versions' }, 'From ',
      el('a', { href: versionHref(params.from), class: 'mono' }, params.from), el('br'), 'to ',
      el('a', { href: versionHref(params.to), class: 'mono' }, params.to)));
    const [ra, rb] = await Promise.all([params.from, params.to].map((v) =>
      api('GET', `/v1/charters/${encodeURIComponent(v)}`)));
    for (const [r, v] of [[ra, params.from], [rb, params.to]]) {
      if (r.status !== 200 || !isObj(r.body) || !isObj(r.body.charter)) {
        put(box, notAvailable(`Charter version ${v} (GET /v1/charters/{version})`, r));
        return;
      }
    }
    put(box, el('div', { 'data-testid': 'diff-result' },
      renderDiffSections(diffCharters(ra.body.charter, rb.body.charter))));
  }

  page('charter/diff', { title: 'Charter difference', roles: ['admin', 'auditor'], nav: false, render: renderDiff });

  // ---- replay preview -------------------------------------------------------------------

  const readFile = (f) => new Promise((resolve, reject) => {
    const rd = new FileReader();
    rd.onload = () => resolve({ name: f.name, text: String(rd.result) });
    rd.onerror = () => reject(new Error(`${f.name} could not be read`));
    rd.readAsText(f);
  });

  function replayResult(b) {
    const s = b.summary || {};
    const ch = b.changes || [];
    return [
      el('p', { class: 'lead' }, 'Draft version ', el('span', { class: 'mono' }, b.draft_version || '?'),
        '. Nothing was recorded: this is a preview.'),
      el('dl', { class: 'kv', 'data-testid': 'replay-summary' }, [
        ['decisions replayed', s.decisions], ['would change', s.changed],
        ['only the rules that fired change', s.rules_changed], ['unchanged', s.unchanged],
        ['could not be replayed', s.errors], ['would now allow', s.to_allow],
        ['would now escalate', s.to_escalate], ['would now deny', s.to_deny],
      ].map(([k, v]) => [el('dt', {}, k), el('dd', {}, fmtNum(v))])),
      b.truncated ? el('p', { class: 'notice' }, `Only the first ${ch.length} changes are listed.`) : null,
      ch.length === 0 ? el('p', { class: 'calm', 'data-testid': 'replay-none' }, 'No recorded decision would change.')
        : table('Decisions the draft would change', [
          { head: 'Decision', cell: (c) => el('a', { href: decisionHref(c.decision_id), 'data-testid': 'replay-link' },
            c.decision_id) },
          { head: 'Time', cell: (c) => fmtTime(c.time) },
          { head: 'Agent', cell: (c) => c.agent },
          { head: 'Workflow', cell: (c) => c.workflow },
          { head: 'Action', cell: (c) => c.action },
          { head: 'Before', cell: (c) => [tag(c.before), ` ${c.before_reason || ''}`] },
          { head: 'After', cell: (c) => [tag(c.after), ` ${c.after_reason || ''}`] },
          { head: 'Fired now, not before', cell: (c) => list(c.added) },
          { head: 'No longer fired', cell: (c) => list(c.removed) },
        ], ch, 'replay-changes'),
    ];
  }

  function renderReplay(box) {
    box.classList.add('pages');
    const d = new Date(Date.now() - 30 * 86400000);
    const since = d.toISOString().slice(0, 10);
    const files = el('input', { type: 'file', id: 'rp-files', name: 'files', multiple: true,
      accept: '.yaml,.yml,application/yaml,text/yaml', required: true, 'aria-describedby': 'rp-help',
      'data-testid': 'replay-files' });
    const sinceIn = el('input', { type: 'text', id: 'rp-since', name: 'since', value: since, class: 'wide',
      autocomplete: 'off', 'data-testid': 'replay-since' });
    const out = el('div', { 'aria-live': 'polite', 'data-testid': 'replay-result' });
    const button = el('button', { type: 'submit', class: 'primary', 'data-testid': 'replay-run' }, 'Preview');
    const form = el('form', { class: 'filters', 'aria-label': 'Replay a draft charter', 'data-testid': 'replay-form',
      onsubmit: async (ev) => {
        ev.preventDefault();
        const chosen = [...files.files];
        if (chosen.length === 0) {
          fill(out, el('p', { class: 'error', role: 'alert' }, 'Choose the draft\'s YAML files first.'));
          return;
        }
        button.disabled = true;
        fill(out, el('p', { class: 'muted' }, `Replaying ${chosen.length} file${chosen.length === 1 ? '' : 's'}…`));
        try {
          const body = { files: await Promise.all(chosen.map(readFile)) };
          if (sinceIn.value.trim())
            body.since = sinceIn.value.trim();
          const r = await api('POST', '/v1/replay', body);
          if (r.status === 200 && isObj(r.body))
            fill(out, replayResult(r.body));
          else if (r.status === 422 || r.status === 400)
            fill(out, el('p', { class: 'error', role: 'alert', 'data-testid': 'replay-error' },
              r.status === 422 ? `The draft does not load: ${(r.body && r.body.error && r.body.error.message) || errorText(r)}`
                : `The preview was refused: ${errorText(r)}`));
          else
            fill(out, notAvailable('The replay preview (POST /v1/replay)', r));
        } catch (e) {
          fill(out, el('p', { class: 'error', role: 'alert' }, e.message));
        } finally {
          button.disabled = false;
        }
      } },
    el('div', { class: 'field' }, el('label', { for: 'rp-files' }, 'Draft charter files (YAML)'), files),
    el('div', { class: 'field' }, el('label', { for: 'rp-since' }, 'Decisions since'), sinceIn),
    el('div', { class: 'field' }, button));
    put(box, el('h1', {}, 'Replay preview'),
      el('p', { id: 'rp-help', class: 'help' }, 'Choose every file of a draft charter (a charter split by ' +
        'department needs all its files). The server decides the recorded requests again under the draft ' +
        'and lists the decisions that would change, before the draft goes live. Nothing is recorded.'),
      form, out);
  }

  page('replay', { title: 'Replay', roles: ['admin', 'auditor'], render: renderReplay });

  // For tests and people reading the console's code: the diff, without the DOM.
  window.CharterDiff = Object.freeze({ diffCharters });
})();
