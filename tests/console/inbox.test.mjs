// inbox.test.mjs - the console's sign-in and inbox in headless chromium,
// against one real `charter serve` on 127.0.0.1 whose ledger the tests fill
// through the API: signing in through the form, an escalation appearing
// while the page is open, approving with a note while the agent's long poll
// waits, deny refused without a note, the keyboard alone, a resolution that
// lost a race showing the server's reason, and the queues a person sees.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { call, decide, decision, launch, limit, newPage, refund, resolve, screenshot, signIn,
  startServer, stopAll, waitFor, waiver } from './lib.mjs';

let srv;
let b;
before(async () => {
  srv = await startServer({
    approvers: { lena: { queues: ['leads'], roles: ['support-lead'] },
      bo: { queues: ['billing'], roles: ['billing-lead'] } },
    auditors: ['ada'],
  });
  b = await launch();
});
after(async () => {
  if (b)
    await b.close().catch(() => {});
  await stopAll();
});

const quick = { timeout: limit(15) };
const item = (page, id) => page.locator(`[data-testid="inbox-item"][data-id="${id}"]`);

test('signing in through the form: who, the pages of the role, a session cookie only', quick, async () => {
  const page = await newPage(b);
  await page.goto(`${srv.base}/`);
  await page.getByLabel('Access token').waitFor();
  await screenshot(page, 'signin');
  // A wrong token is refused with a reason, and nothing signs in.
  await page.getByLabel('Access token').fill('chk_00000000_notatoken');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('[data-testid="signin-error"]').filter({ hasText: 'not known' }).waitFor();
  await signIn(page, srv, 'lena');
  assert.equal(await page.locator('[data-testid="who-role"]').textContent(), 'approver');
  assert.deepEqual(await page.locator('[data-testid="nav"] a').allTextContents(), ['Inbox', 'History',
    'Standing approvals']);
  await page.locator('[data-testid="inbox-count"]').filter({ hasText: /open escalation|Nothing waiting/ }).waitFor();
  assert.match(page.url(), /#\/inbox$/);
  // The token is nowhere in the page's storage; the session is an HttpOnly,
  // SameSite=Strict cookie.
  const stored = await page.evaluate(() => JSON.stringify([{ ...localStorage }, { ...sessionStorage }]));
  assert.equal(stored, '[{},{}]');
  assert.doesNotMatch(await page.content(), /chk_/);
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === 'charter_session');
  assert.ok(session, `a charter_session cookie: ${JSON.stringify(cookies)}`);
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, 'Strict');
  // A reload keeps the session (the page asks GET /v1/session again).
  await page.reload();
  await page.locator('[data-testid="who-name"]').filter({ hasText: 'lena' }).waitFor();
  assert.deepEqual(page.errors, [], 'no page errors and no CSP violations');
  await page.context().close();
});

test('an escalation made while the page is open appears without a reload, its fields first', quick, async () => {
  const page = await newPage(b);
  await signIn(page, srv, 'lena');
  await page.locator('[data-testid="inbox-count"]').filter({ hasText: /open escalation|Nothing waiting/ }).waitFor();
  await page.evaluate(() => { window.stillTheSamePage = true; });
  // An idle page keeps at most one listing call going: no polling storm.
  let listings = 0;
  const count = (r) => { if (new URL(r.url()).pathname === '/v1/escalations') listings++; };
  page.on('request', count);
  await page.waitForTimeout(2000);
  page.off('request', count);
  assert.ok(listings <= 1, `${listings} listing calls in 2 s of an idle page`);
  const esc = await decide(srv, refund(400));
  assert.equal(esc.decision, 'escalate');
  const id = esc.decision_id;
  await item(page, id).waitFor({ timeout: limit(8) });
  assert.equal(await page.evaluate(() => window.stillTheSamePage), true, 'the page was not reloaded');
  await item(page, id).click();
  const detail = page.locator('[data-testid="inbox-detail"]');
  await detail.locator(`article[data-id="${id}"]`).waitFor();
  assert.equal(await detail.locator('[data-testid="inbox-agent"]').textContent(), 'support-bot');
  assert.equal(await detail.locator('[data-testid="inbox-detail-title"]').textContent(),
    'refunds / issue_refund');
  // The field the rule read (input.amount) comes first, then the rest.
  const names = await detail.locator('[data-testid="inbox-fields"] dt').allTextContents();
  assert.equal(names[0], 'input.amount');
  assert.ok(names.includes('input.destination') && names.includes('subject.tenure_years'), names.join());
  assert.equal(await detail.locator('[data-testid="inbox-read-field"]').first().textContent(), '400');
  assert.equal(await detail.locator('[data-testid="inbox-rationale"]').textContent(),
    'The parcel arrived damaged.');
  assert.equal(await detail.locator('[data-testid="inbox-confidence"]').textContent(), '0.80');
  assert.equal(await detail.locator('[data-testid="inbox-explanation"]').textContent(),
    'Refunds over 100 need a lead.');
  assert.match(await detail.locator('[data-testid="inbox-fired"]').textContent(), /large-refund/);
  assert.match(await detail.locator('[data-testid="inbox-values"]').textContent(), /cost-discipline/);
  assert.match(await detail.locator('[data-testid="inbox-deadline"]').textContent(),
    /in 3h 5\dm .*then it is denied/);
  // The rule's past (when the server keeps it): this one escalation, open.
  const hist = await call(srv, 'GET', '/v1/rules/history?rule=large-refund&days=30',
    { token: srv.tokens.lena });
  if (hist.status === 200)
    await detail.locator('[data-testid="inbox-rule-history"]').filter({ hasText: /^Rule large-refund .*30 days/ }).waitFor();
  await screenshot(page, 'inbox');
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('approve with a note: the agent waiting on the decision gets allow', quick, async () => {
  const esc = await decide(srv, refund(250));
  const id = esc.decision_id;
  const page = await newPage(b);
  await signIn(page, srv, 'lena');
  // The agent's long poll starts before the click.
  const waiting = call(srv, 'GET', `/v1/decisions/${id}?wait=20`,
    { token: srv.tokens['support-bot'], timeout: limit(25) });
  await item(page, id).click();
  await page.getByLabel('Note').fill('double charge confirmed');
  const started = Date.now();
  await page.locator('[data-testid="inbox-approve"]').click();
  const r = await waiting;
  assert.equal(r.status, 200);
  assert.equal(r.body.decision, 'allow');
  assert.equal(r.body.final, true);
  assert.ok(Date.now() - started < limit(5), 'the waiting call returned at once');
  assert.equal(r.body.escalation.resolved_by, 'lena');
  assert.equal(r.body.escalation.note, 'double charge confirmed');
  await page.locator('[data-testid="status"]').filter({ hasText: `${id} approved` }).waitFor();
  await item(page, id).waitFor({ state: 'detached' });
  // The history lists it.
  await page.getByRole('link', { name: 'History' }).click();
  const row = page.locator(`[data-testid="history-row"][data-id="${id}"]`);
  await row.waitFor();
  assert.match(await row.textContent(), /approved.*double charge confirmed/);
  await screenshot(page, 'history');
  await page.context().close();
});

test('deny without a note is refused by the page and by the server', quick, async () => {
  const esc = await decide(srv, refund(300));
  const id = esc.decision_id;
  const page = await newPage(b);
  await signIn(page, srv, 'lena');
  await item(page, id).click();
  const deny = page.locator('[data-testid="inbox-deny"]');
  assert.match(await deny.textContent(), /note/, 'the button says a note is needed');
  await deny.click();
  await page.locator('[data-testid="inbox-error"]').filter({ hasText: 'A note is required to deny' }).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.id), 'inbox-note');
  // The server refuses it too, for a POST the page's own session makes.
  const forged = await page.evaluate(async (path) => {
    const s = await (await fetch('/v1/session')).json();
    const res = await fetch(path, { method: 'POST', headers: { 'Content-Type': 'application/json',
      'X-CSRF-Token': s.csrf }, body: JSON.stringify({ resolution: 'deny', note: '   ' }) });
    return { status: res.status, body: await res.json() };
  }, `/v1/escalations/${id}/resolve`);
  assert.equal(forged.status, 400);
  assert.equal(forged.body.error.code, 'note_required');
  assert.equal((await decision(srv, id)).escalation.status, 'open', 'nothing was resolved');
  await page.context().close();
});

test('the keyboard alone: j/k move, d asks for a note, then denies', quick, async () => {
  const one = (await decide(srv, refund(111))).decision_id;
  const two = (await decide(srv, refund(222))).decision_id;
  const page = await newPage(b);
  await signIn(page, srv, 'lena');
  await item(page, two).waitFor();
  // Put the selection on `one`, then walk to `two` with j (deadlines run in
  // decision order here: `two` is right after `one`).
  await item(page, one).focus();
  await item(page, one).press('Enter');
  await page.keyboard.press('j');
  assert.equal(await page.evaluate(() => document.activeElement.dataset.id), two);
  await page.keyboard.press('k');
  assert.equal(await page.evaluate(() => document.activeElement.dataset.id), one);
  await page.keyboard.press('j');
  await page.locator(`article[data-id="${two}"]`).waitFor();
  await page.keyboard.press('d');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'inbox-note');
  await page.keyboard.type('wrong customer');
  await page.keyboard.press('Escape');
  assert.equal(await page.evaluate(() => document.activeElement.dataset.id), two);
  await page.keyboard.press('d');
  await page.locator('[data-testid="status"]').filter({ hasText: `${two} denied` }).waitFor();
  const d = await decision(srv, two);
  assert.equal(d.escalation.status, 'denied');
  assert.equal(d.escalation.note, 'wrong customer');
  assert.equal((await decision(srv, one)).escalation.status, 'open');
  // The shortcuts are on the page.
  assert.match(await page.locator('[data-testid="inbox-shortcuts"]').textContent(), /j.*k.*a.*d.*\//);
  await page.context().close();
});

test('resolving what someone else resolved meanwhile shows the server\'s reason', quick, async () => {
  const id = (await decide(srv, refund(333))).decision_id;
  const page = await newPage(b);
  // The page's first listing goes through; its long polls after it are held
  // (never answered), so the page still shows the escalation open.
  let listings = 0;
  await page.route((u) => u.pathname === '/v1/escalations', (route) => {
    if (listings++ === 0)
      route.continue();
  });
  await signIn(page, srv, 'lena');
  await item(page, id).click();
  await page.locator(`article[data-id="${id}"]`).waitFor();
  const other = await resolve(srv, 'lena', id, 'deny', 'resolved from another tab');
  assert.equal(other.status, 200);
  await page.locator('[data-testid="inbox-approve"]').click();
  const err = page.locator('[data-testid="inbox-error"]');
  await err.filter({ hasText: 'already_resolved' }).waitFor();
  assert.match(await err.textContent(), /Not approved: .*lena/);
  assert.equal((await decision(srv, id)).escalation.status, 'denied');
  await page.context().close();
});

test('an approver of one queue never sees another queue\'s escalations', quick, async () => {
  const lead = (await decide(srv, refund(444))).decision_id;
  const fee = (await decide(srv, waiver(15))).decision_id;
  const lena = await newPage(b);
  await signIn(lena, srv, 'lena');
  await item(lena, lead).waitFor();
  const ids = await lena.locator('[data-testid="inbox-item"]').evaluateAll((n) => n.map((x) => x.dataset.id));
  assert.ok(!ids.includes(fee), `lena sees ${ids}`);
  const queues = await lena.locator('[data-testid="inbox-filter-queue"] option').allTextContents();
  assert.ok(!queues.includes('billing'), `lena's queue filter: ${queues}`);
  // Nor through the API with her session.
  const peek = await lena.evaluate(async (fid) => [
    (await fetch('/v1/escalations?queue=billing')).status,
    (await fetch(`/v1/decisions/${fid}`)).status], fee);
  assert.deepEqual(peek, [403, 403]);
  const bo = await newPage(b);
  await signIn(bo, srv, 'bo');
  await item(bo, fee).waitFor();
  const boIds = await bo.locator('[data-testid="inbox-item"]').evaluateAll((n) => n.map((x) => x.dataset.id));
  assert.deepEqual(boIds, [fee]);
  // The filter narrows to one workflow.
  await lena.locator('[data-testid="inbox-filter-workflow"]').selectOption('refunds');
  await item(lena, lead).waitFor();
  await lena.context().close();
  await bo.context().close();
});
