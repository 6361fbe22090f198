// alignment.js - the console's alignment page ('#/alignment?by=week&since=..')
// and readiness map ('#/map'), for admins and auditors. Both show the picture
// the analyses layer draws (an <img> of /v1/report?format=svg or
// /v1/map?format=svg: same origin, no script runs in it) and the same
// figures from the JSON as tables, so a screen reader and the keyboard get
// everything. The alignment warnings (an outcome improving while a health
// metric degrades) come first, as an alert.
'use strict';

(() => {
  const { el, api, page, go, fmtTime } = window.Charter;
  const P = window.CharterPages;
  const { table, fmtNum, fmtRate, notAvailable, query, tag, put, fill } = P;
  P.ensureCss();

  const REPORT_KEYS = ['by', 'since', 'until'];

  // An <img> of an SVG picture from the API; when it cannot be drawn (the
  // server does not draw it, or it failed) a plain note replaces it.
  function picture(src, alt, testid, what) {
    const fig = el('figure', { class: 'picture' });
    const img = el('img', { src, alt, 'data-testid': testid,
      onerror: () => fill(fig, el('p', { class: 'notice', role: 'status',
        'data-testid': `${testid}-missing` }, `${what} could not be drawn by this server ` +
        `(${src.split('?')[0]} with format=svg failed); the tables below have the same figures.`)) });
    fig.append(img);
    return fig;
  }

  function reportForm(params) {
    const by = params.by === 'week' ? 'week' : 'day';
    const form = el('form', { class: 'filters', 'aria-label': 'Report period', 'data-testid': 'alignment-form',
      onsubmit: (ev) => {
        ev.preventDefault();
        const q = query({ by: form.elements.by.value, since: form.elements.since.value.trim(),
          until: form.elements.until.value.trim() }, REPORT_KEYS);
        go(`#/alignment?${q}`);
      } },
    el('div', { class: 'field' }, el('label', { for: 'al-by' }, 'Period'),
      el('select', { id: 'al-by', name: 'by', 'data-testid': 'alignment-by' },
        el('option', { value: 'day', selected: by === 'day' }, 'day'),
        el('option', { value: 'week', selected: by === 'week' }, 'week'))),
    el('div', { class: 'field' }, el('label', { for: 'al-since' }, 'From'),
      el('input', { id: 'al-since', name: 'since', type: 'text', value: params.since || '',
        placeholder: 'a date or RFC 3339 time', class: 'wide', autocomplete: 'off' })),
    el('div', { class: 'field' }, el('label', { for: 'al-until' }, 'Until'),
      el('input', { id: 'al-until', name: 'until', type: 'text', value: params.until || '',
        placeholder: 'a date or RFC 3339 time', class: 'wide', autocomplete: 'off' })),
    el('div', { class: 'field' }, el('button', { type: 'submit', class: 'primary' }, 'Show')));
    return form;
  }

  function warningsBlock(ws) {
    if (!ws.length)
      return el('p', { class: 'calm', 'data-testid': 'alignment-no-warnings' },
        'No warning: no outcome improved while a health metric of its goal degraded over these periods.');
    return el('section', { class: 'alert-band', role: 'alert', 'aria-labelledby': 'al-warn',
      'data-testid': 'alignment-warnings' },
    el('h2', { id: 'al-warn' }, ws.length === 1 ? 'Warning: an outcome improves while health degrades'
      : `Warning: ${ws.length} outcomes improve while health degrades`),
    el('ul', {}, ws.map((w) => el('li', { 'data-testid': 'alignment-warning' },
      el('strong', {}, w.message || `goal ${w.goal}: ${w.outcome} improved while ${w.health} degraded`),
      el('br'),
      el('span', { class: 'detail' },
        `Workflows: ${(w.workflows || []).join(', ') || 'none decided then'}. ` +
        `Agents: ${(w.agents || []).map((a) => `${a.agent} (${a.decisions} decisions)`).join(', ') || 'none'}.` +
        (w.breached ? ` ${w.health} is now past its limit.` : ''))))));
  }

  function chartAlt(b) {
    const ps = b.periods || [];
    const ws = b.warnings || [];
    const metrics = (b.goals || []).reduce((n, g) => n + (g.metrics || []).length, 0);
    return `Alignment charts for ${b.organization || 'the organization'} by ${b.by || 'day'}` +
      (ps.length ? `, ${ps.length} period${ps.length === 1 ? '' : 's'} from ${ps[0]} to ${ps[ps.length - 1]}` : ', no periods') +
      `: ${ws.length} warning${ws.length === 1 ? '' : 's'}` +
      (ws.length ? ` (${ws.map((w) => `${w.outcome} improving while ${w.health} degrades`).join('; ')})` : '') +
      `; line charts of ${metrics} metric${metrics === 1 ? '' : 's'} of ${(b.goals || []).length} goals against their targets and limits; ` +
      `overrule and confirm rates of ${(b.rules || []).length} rules and ${(b.queues || []).length} queues; ` +
      `the decision mix of ${(b.agents || []).length} agents. The tables below give the same figures.`;
  }

  const limits = (m) => (m.role === 'outcome'
    ? `target ${fmtNum(m.target)} (${m.direction || '?'})`
    : [m.min !== null && m.min !== undefined ? `min ${fmtNum(m.min)}` : null,
      m.max !== null && m.max !== undefined ? `max ${fmtNum(m.max)}` : null].filter(Boolean).join(', ') || 'no limits');

  function goalTables(b) {
    const periods = (b.periods || []).slice(-12);
    return (b.goals || []).map((g) => {
      const cols = [
        { head: 'Metric', cell: (m) => m.metric },
        { head: 'Kind', cell: (m) => m.role },
        { head: 'Target or limits', cell: (m) => limits(m) },
      ].concat(periods.map((p) => ({ head: p, num: true, cell: (m) => {
        const s = (m.series || []).find((x) => x.period === p);
        return s ? el('span', { class: s.status === 'breached' || s.status === 'missed' ? 'bad' : null,
          title: s.status }, `${fmtNum(s.value)}${s.status === 'breached' || s.status === 'missed' ? ` (${s.status})` : ''}`) : '';
      } }))).concat([{ head: 'Trend', cell: (m) => m.trend }]);
      return el('section', { class: 'goal' },
        el('h3', {}, `Goal ${g.id}`),
        g.objective ? el('p', { class: 'help' }, g.objective) : null,
        table(null, cols, g.metrics || [], `goal-${g.id}`));
    });
  }

  // Overrule: a person approved what a rule sent to them (let it go ahead);
  // confirm: a person denied it too.
  const overrule = (x) => (x.approved + x.denied > 0 ? x.approved / (x.approved + x.denied) : null);
  const confirm = (x) => (x.approved + x.denied > 0 ? x.denied / (x.approved + x.denied) : null);
  const resolutionCols = [
    { head: 'Escalated', num: true, cell: (x) => fmtNum(x.escalated) },
    { head: 'Approved (overruled)', num: true, cell: (x) => fmtNum(x.approved) },
    { head: 'Denied (confirmed)', num: true, cell: (x) => fmtNum(x.denied) },
    { head: 'Timed out', num: true, cell: (x) => fmtNum(x.timed_out) },
    { head: 'Open', num: true, cell: (x) => fmtNum(x.open) },
    { head: 'Overrule rate', num: true, cell: (x) => fmtRate(overrule(x)) },
    { head: 'Confirm rate', num: true, cell: (x) => fmtRate(confirm(x)) },
    { head: 'Mean minutes', num: true, cell: (x) => fmtNum(x.mean_minutes) },
  ];

  async function renderAlignment(box, params) {
    box.classList.add('pages');
    put(box, el('h1', {}, 'Alignment'), reportForm(params));
    const q = query(Object.assign({ by: 'day' }, params), REPORT_KEYS);
    const body = el('div', { 'aria-busy': 'true' }, el('p', { class: 'muted' }, 'Reading the ledger…'));
    put(box, body);
    const r = await api('GET', `/v1/report?${q}`);
    body.setAttribute('aria-busy', 'false');
    if (r.status !== 200 || !r.body || typeof r.body !== 'object') {
      fill(body, r.status === 400
        ? el('p', { class: 'error', role: 'alert' }, `The report was refused: ${window.Charter.errorText(r)}`)
        : notAvailable('The alignment report (GET /v1/report)', r));
      return;
    }
    const b = r.body;
    const ps = b.periods || [];
    fill(body, 
      warningsBlock(b.warnings || []),
      el('p', { class: 'help' }, `${b.organization || ''} · charter ${b.charter_version || '?'} · ` +
        `${b.totals ? `${b.totals.decisions} decisions, ${b.totals.outcomes} outcome reports` : ''}` +
        (ps.length ? ` · ${ps.length} ${b.by || 'day'} periods, ${ps[0]} to ${ps[ps.length - 1]}` : ' · no periods with reports')),
      picture(`/v1/report?${q}&format=svg`, chartAlt(b), 'alignment-chart', 'The charts picture'),
      el('h2', {}, 'Goals: outcomes and health per period'),
      goalTables(b),
      el('h2', {}, 'Rules: overruled or confirmed by people'),
      table(null, [{ head: 'Rule', cell: (x) => x.rule }, { head: 'Kind', cell: (x) => x.kind },
        { head: 'Protects', cell: (x) => x.protects || '' },
        { head: 'Fired', num: true, cell: (x) => fmtNum(x.fired) }].concat(resolutionCols),
      b.rules || [], 'alignment-rules'),
      el('h2', {}, 'Queues'),
      table(null, [{ head: 'Queue', cell: (x) => x.queue }].concat(resolutionCols), b.queues || [],
        'alignment-queues'),
      el('h2', {}, 'Decision mix per agent'),
      table(null, [
        { head: 'Agent', cell: (x) => [x.agent, x.registered === false ? el('span', { class: 'tag deny' }, 'unregistered') : null] },
        { head: 'Decisions', num: true, cell: (x) => fmtNum(x.decisions) },
        { head: 'Allow', num: true, cell: (x) => fmtNum(x.allow) },
        { head: 'Escalate', num: true, cell: (x) => fmtNum(x.escalate) },
        { head: 'Deny', num: true, cell: (x) => fmtNum(x.deny) },
        { head: 'Boundary hits', num: true, cell: (x) => fmtNum(x.boundary_hits) },
        { head: 'Stop-rule hits', num: true, cell: (x) => fmtNum(x.stop_rule_hits) },
        { head: 'Approved', num: true, cell: (x) => fmtNum(x.approved) },
        { head: 'Denied', num: true, cell: (x) => fmtNum(x.denied) },
        { head: 'Timed out', num: true, cell: (x) => fmtNum(x.timed_out) },
      ], b.agents || [], 'alignment-agents'),
      el('h2', {}, 'Values in rank order'),
      table(null, [
        { head: 'Value', cell: (x) => `${x.rank}. ${x.value}` },
        { head: 'Fired', num: true, cell: (x) => fmtNum(x.fired) },
        { head: 'Escalated', num: true, cell: (x) => fmtNum(x.escalated) },
        { head: 'Overruled', num: true, cell: (x) => fmtNum(x.overruled) },
        { head: 'Upheld', num: true, cell: (x) => fmtNum(x.upheld) },
        { head: 'Timed out', num: true, cell: (x) => fmtNum(x.timed_out) },
        { head: 'Overrule rate', num: true, cell: (x) => fmtRate(x.overrule_rate) },
      ], b.values || [], 'alignment-values'));
  }

  page('alignment', { title: 'Alignment', roles: ['admin', 'auditor'], render: renderAlignment });

  // ---- the readiness map -------------------------------------------------------

  function evidence(e) {
    if (!e)
      return el('span', { class: 'muted' }, 'no ledger');
    const bh = e.boundary_hits || {};
    return el('dl', { class: 'kv compact' },
      el('dt', {}, 'decisions'), el('dd', {}, `${fmtNum(e.decisions)}, ${fmtNum(e.escalated)} escalated`),
      el('dt', {}, 'escalations'), el('dd', {}, `${fmtNum(e.approved)} approved, ${fmtNum(e.denied)} denied, ` +
        `${fmtNum(e.timed_out)} timed out, ${fmtNum(e.open)} open; approval ${fmtRate(e.approval_rate)}`),
      el('dt', {}, 'boundary hits'), el('dd', {}, `earlier ${fmtNum(bh.earlier_hits)} of ${fmtNum(bh.earlier_decisions)}, ` +
        `later ${fmtNum(bh.later_hits)} of ${fmtNum(bh.later_decisions)}${bh.rising ? ' (rising)' : ''}`),
      (e.health || []).length ? [el('dt', {}, 'health'), el('dd', {}, el('ul', { class: 'plain' },
        e.health.map((h) => el('li', { class: h.within ? null : 'bad' },
          `${h.metric} ${fmtNum(h.value)} (${h.period}) ${h.within ? 'within' : 'past its limit'}, ${h.scope}`))))] : null);
  }

  async function renderMap(box) {
    box.classList.add('pages');
    put(box, el('h1', {}, 'Readiness map'));
    const r = await api('GET', '/v1/map');
    if (r.status !== 200 || !r.body || typeof r.body !== 'object') {
      put(box, notAvailable('The readiness map (GET /v1/map)', r));
      return;
    }
    const b = r.body;
    const wfs = b.workflows || [];
    const moves = wfs.filter((w) => w.recommendation && w.recommendation !== 'keep');
    const th = b.thresholds || {};
    put(box, 
      el('p', { class: 'help' }, `${b.organization || ''} · charter ${b.charter_version || '?'} · thresholds: ` +
        `${fmtNum(th.min_cases)} cases, approval ≥ ${fmtRate(th.promote_approval)}, boundary rise × ${fmtNum(th.boundary_rise)}` +
        ` (${th.from_charter ? 'from the charter' : 'defaults'})`),
      picture('/v1/map?format=svg', `Readiness map of ${wfs.length} workflows by autonomy class: ` +
        `${['agent-ready', 'agent-augmented', 'human-only'].map((c) => `${wfs.filter((w) => w.autonomy === c).length} ${c}`).join(', ')}; ` +
        (moves.length ? moves.map((w) => `${w.id}: ${w.recommendation}`).join(', ') : 'every workflow: keep') +
        '. The table below gives each workflow\'s evidence and recommendation.', 'map-picture', 'The map picture'),
      el('h2', {}, 'Workflows'),
      table(null, [
        { head: 'Workflow', cell: (w) => [el('strong', {}, w.id), el('br'),
          el('span', { class: 'muted' }, `${w.department || ''} · ${w.owner || ''}`)] },
        { head: 'Autonomy', cell: (w) => w.autonomy },
        { head: 'Risk flags', cell: (w) => (w.risk_flags || []).join(', ') || 'none' },
        { head: 'Evidence', cell: (w) => evidence(w.evidence) },
        { head: 'Recommendation', cell: (w) => [tag(w.recommendation || 'keep'),
          w.move_to ? ` to ${w.move_to}` : null, el('br'), el('span', { class: 'muted' }, w.reason || '')] },
      ], wfs, 'map-table'),
      el('p', { class: 'help' }, `Read ${fmtTime(new Date().toISOString())}.`));
  }

  page('map', { title: 'Readiness map', roles: ['admin', 'auditor'], render: renderMap });
})();
