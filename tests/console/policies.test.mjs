// policies.test.mjs - the inbox under a queue's approval policies, in
// headless chromium against a real `charter serve` on 127.0.0.1 serving
// tests/console/data/policies.yaml: a quorum of two for payouts over 1,000
// (the first approval leaves the item open, "waiting for a second
// approver"; the second resolves it), a queue that wants a note with every resolution, the agent's owner
// who may not approve, refusals shown as readable text, "approve and allow
// the same for N hours" (its bound, its exact scope, the next matching
// escalation approved by it), the Standing approvals page (#/grants) and
// revoking there, the strip of failing notifications (from a second server
// whose queue notifies a local receiver that keeps answering 503), and
// #/inbox?id=d-7, the link a notification carries.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { SOURCE, call, decide, decision, launch, limit, newPage, refund, resolve, screenshot, signIn,
  startServer, stopAll, waitFor, waiver } from './lib.mjs';

const POLICIES = `${SOURCE}/tests/console/data/policies.yaml`;
const payout = (amount = 1500) => ({ workflow: 'payouts', action: 'send_payout', confidence: 0.9,
  rationale: 'Supplier invoice 118 is due.', input: { amount, currency: 'EUR', iban: 'DE00 1234' },
  subject: { supplier_id: 's-77' } });

let srv;
let b;
const cleanup = [];
before(async () => {
  srv = await startServer({
    charter: POLICIES,
    approvers: {
      lena: { queues: ['leads', 'pairs'], roles: ['support-lead', 'payout-approver'] },
      omar: { queues: ['leads', 'pairs'], roles: ['support-lead', 'payout-approver'] },
      bo: { queues: ['billing'], roles: ['billing-lead'] },
      ana: { queues: ['leads'], roles: ['support-lead'] }, // the agent's owner
    },
    auditors: ['ada'],
  });
  b = await launch();
});
after(async () => {
  if (b)
    await b.close().catch(() => {});
  for (const f of cleanup)
    await f();
  await stopAll();
});

const quick = { timeout: limit(20) };
const item = (page, id) => page.locator(`[data-testid="inbox-item"][data-id="${id}"]`);
const escalate = async (request) => {
  const a = await decide(srv, request);
  assert.equal(a.decision, 'escalate', JSON.stringify(a));
  return a.decision_id;
};
const status = async (id) => (await decision(srv, id)).escalation;

// Opens the inbox as `who` with item `id` selected.
async function open(who, id, s = srv) {
  const page = await newPage(b);
  await signIn(page, s, who);
  await item(page, id).click();
  await page.locator(`[data-testid="inbox-detail"] article[data-id="${id}"]`).waitFor();
  return page;
}

// A page whose first listing goes through with `edit` applied to each
// escalation and whose later long polls are held (never answered): the page
// believes what that first listing said.
async function staleOpen(who, id, edit) {
  const page = await newPage(b);
  let listings = 0;
  await page.route((u) => u.pathname === '/v1/escalations', async (route) => {
    if (listings++ > 0)
      return; // held
    const res = await route.fetch();
    const body = await res.json();
    body.escalations = body.escalations.map(edit);
    await route.fulfill({ response: res, json: body });
  });
  await signIn(page, srv, who);
  await item(page, id).click();
  await page.locator(`article[data-id="${id}"]`).waitFor();
  return page;
}

// Denies every open escalation of `queue` (so a standing approval made next
// approves only what the test makes).
async function clearQueue(queue, who) {
  const r = await call(srv, 'GET', `/v1/escalations?status=open&queue=${queue}&limit=500`,
    { token: srv.tokens.admin });
  assert.equal(r.status, 200);
  for (const e of r.body.escalations)
    assert.equal((await resolve(srv, who, e.decision_id, 'deny', 'cleared by the test')).status, 200);
}

test('quorum: the first approval leaves it open, waiting for a second approver; the second resolves it', quick, async () => {
  const id = await escalate(payout());
  const small = await escalate(payout(500)); // one approval is enough under 1,000
  const lena = await open('lena', id);
  await item(lena, small).waitFor();
  assert.equal(await item(lena, small).locator('[data-testid="inbox-item-quorum"]').count(), 0);
  assert.equal(await item(lena, id).locator('[data-testid="inbox-item-quorum"]').textContent(), '0 of 2');
  assert.equal(await lena.locator('[data-testid="inbox-quorum"]').textContent(), 'Approvals 0 of 2');
  await lena.getByLabel('Note').fill('invoice checked');
  await lena.locator('[data-testid="inbox-approve"]').click();
  await lena.locator('[data-testid="status"]')
    .filter({ hasText: `${id}: your approval is recorded (1 of 2); waiting for a second approver` }).waitFor();
  // The item stays, with the vote, and lena may not vote twice.
  await lena.locator('[data-testid="inbox-quorum"]').filter({ hasText: 'Approvals 1 of 2: lena' }).waitFor();
  assert.equal(await lena.locator('[data-testid="inbox-waiting"]').textContent(), 'Waiting for a second approver.');
  assert.equal(await item(lena, id).count(), 1);
  assert.equal(await lena.locator('[data-testid="inbox-approve"]').isDisabled(), true);
  assert.match(await lena.locator('[data-testid="inbox-approve-why"]').textContent(),
    /You approved it; waiting for a second approver/);
  assert.equal((await status(id)).status, 'open', 'one approval of two resolves nothing');
  await screenshot(lena, 'inbox-quorum');
  // The agent waits; omar's approval completes the quorum.
  const waiting = call(srv, 'GET', `/v1/decisions/${id}?wait=15`,
    { token: srv.tokens['support-bot'], timeout: limit(20) });
  const omar = await open('omar', id);
  assert.equal(await omar.locator('[data-testid="inbox-quorum"]').textContent(), 'Approvals 1 of 2: lena');
  await omar.locator('[data-testid="inbox-approve"]').click();
  await omar.locator('[data-testid="status"]').filter({ hasText: `${id} approved` }).waitFor();
  await item(omar, id).waitFor({ state: 'detached' });
  const r = await waiting;
  assert.equal(r.body.decision, 'allow');
  const e = await status(id);
  assert.equal(e.status, 'approved');
  assert.equal(e.resolved_by, 'omar');
  assert.deepEqual(lena.errors.concat(omar.errors), []);
  await lena.context().close();
  await omar.context().close();
  await resolve(srv, 'lena', small, 'deny', 'cleared by the test');
});

test('refusals are shown as readable text: already_approved, self_approval, quorum, grants_not_allowed', quick, async () => {
  // lena voted in another tab; this page still shows no vote.
  const pair = await escalate(payout(1200));
  const lena = await staleOpen('lena', pair, (e) => ({ ...e, approvals: [] }));
  assert.equal((await resolve(srv, 'lena', pair, 'approve', 'from the other tab')).status, 202);
  await lena.locator('[data-testid="inbox-approve"]').click();
  const err = lena.locator('[data-testid="inbox-error"]');
  await err.filter({ hasText: 'already_approved' }).waitFor();
  assert.match(await err.textContent(),
    /^Not approved: you already approved this escalation; its quorum needs another approver\. .+/);
  // Nor does a standing approval fit a quorum of two (the page is told the
  // queue allows them, as an older listing might).
  const omarPage = await staleOpen('omar', pair, (e) => ({ ...e, approvals: [], approvals_needed: 1,
    policy: { ...e.policy, standing_approvals_max_hours: 8 } }));
  await omarPage.locator('[data-testid="inbox-grant-open"]').click();
  await omarPage.locator('[data-testid="inbox-grant-confirm"]').click();
  const gerr = omarPage.locator('[data-testid="inbox-grant-error"]');
  await gerr.filter({ hasText: '(quorum)' }).waitFor();
  assert.match(await gerr.textContent(), /^Not approved: this escalation needs more than one approver/);
  assert.equal((await status(pair)).status, 'open');
  // billing allows no standing approvals.
  const fee = await escalate(waiver(20));
  const bo = await staleOpen('bo', fee, (e) => ({ ...e, policy: { ...e.policy, standing_approvals_max_hours: 4 } }));
  await bo.getByLabel('Note (required)').fill('loyal customer');
  await bo.locator('[data-testid="inbox-grant-open"]').click();
  await bo.locator('[data-testid="inbox-grant-confirm"]').click();
  await bo.locator('[data-testid="inbox-grant-error"]')
    .filter({ hasText: /^Not approved: this queue does not allow standing approvals\. .*\(grants_not_allowed\)/ }).waitFor();
  // The owner, on a page not told that she may not approve.
  const own = await escalate(refund(150));
  const ana = await staleOpen('ana', own, (e) => {
    const x = { ...e };
    delete x.may_approve;
    delete x.may_approve_why;
    return x;
  });
  assert.equal(await ana.locator('[data-testid="inbox-approve"]').isDisabled(), false);
  await ana.locator('[data-testid="inbox-approve"]').click();
  await ana.locator('[data-testid="inbox-error"]')
    .filter({ hasText: /^Not approved: you own the agent that asked.*\(self_approval\)/ }).waitFor();
  assert.equal((await status(own)).status, 'open');
  assert.equal((await status(fee)).status, 'open');
  for (const p of [lena, omarPage, bo, ana]) {
    assert.deepEqual(p.errors, []);
    await p.context().close();
  }
  await resolve(srv, 'omar', pair, 'deny', 'cleared by the test');
  await resolve(srv, 'bo', fee, 'deny', 'cleared by the test');
  await resolve(srv, 'ana', own, 'deny', 'cleared by the test');
});

test('require_note always: approving without a note is refused by the page and by the server', quick, async () => {
  const id = await escalate(waiver(25));
  const bo = await open('bo', id);
  assert.match(await bo.locator('[data-testid="inbox-note-help"]').textContent(),
    /requires a note to approve and to deny/);
  const approve = bo.locator('[data-testid="inbox-approve"]');
  assert.equal(await approve.textContent(), 'Approve (write a note first)');
  await approve.click();
  await bo.locator('[data-testid="inbox-error"]').filter({ hasText: 'A note is required to approve' }).waitFor();
  assert.equal(await bo.evaluate(() => document.activeElement.id), 'inbox-note');
  // The server refuses it as well, for a POST the page's own session makes.
  const forged = await bo.evaluate(async (path) => {
    const s = await (await fetch('/v1/session')).json();
    const res = await fetch(path, { method: 'POST', headers: { 'Content-Type': 'application/json',
      'X-CSRF-Token': s.csrf }, body: JSON.stringify({ resolution: 'approve' }) });
    return { status: res.status, body: await res.json() };
  }, `/v1/escalations/${id}/resolve`);
  assert.equal(forged.status, 400);
  assert.equal(forged.body.error.code, 'note_required');
  assert.equal((await status(id)).status, 'open');
  await bo.getByLabel('Note (required)').fill('first waiver this year');
  assert.equal(await approve.textContent(), 'Approve');
  await approve.click();
  await bo.locator('[data-testid="status"]').filter({ hasText: `${id} approved` }).waitFor();
  assert.equal((await status(id)).note, 'first waiver this year');
  await bo.context().close();
});

test('self-approval: the agent\'s owner sees Approve disabled with the reason, and may deny', quick, async () => {
  const id = await escalate(refund(180));
  const ana = await open('ana', id);
  const approve = ana.locator('[data-testid="inbox-approve"]');
  assert.equal(await approve.isDisabled(), true);
  const why = await ana.locator('[data-testid="inbox-approve-why"]').textContent();
  assert.match(why, /ana/);
  assert.match(why, /self-approval|own/);
  assert.equal(await approve.getAttribute('aria-describedby'), 'inbox-approve-why');
  assert.equal(await ana.locator('[data-testid="inbox-grant"]').count(), 0, 'no standing approval either');
  // The keyboard's a does nothing; a deny with a note goes through.
  await item(ana, id).focus();
  await ana.keyboard.press('a');
  await ana.waitForTimeout(300);
  assert.equal((await status(id)).status, 'open');
  await ana.getByLabel('Note').fill('I asked for this one myself; not mine to judge');
  await ana.locator('[data-testid="inbox-deny"]').click();
  await ana.locator('[data-testid="status"]').filter({ hasText: `${id} denied` }).waitFor();
  assert.equal((await status(id)).resolved_by, 'ana');
  await ana.context().close();
});

test('#/inbox?id=d-7 (a notification\'s link) opens that item, after signing in', quick, async () => {
  const ids = [];
  for (const fee of [11, 12, 13])
    ids.push(await escalate(waiver(fee)));
  const page = await newPage(b);
  await page.goto(`${srv.base}/#/inbox?id=${ids[1]}`);
  await page.getByLabel('Access token').fill(srv.tokens.bo);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator(`[data-testid="inbox-detail"] article[data-id="${ids[1]}"]`).waitFor();
  assert.equal(await item(page, ids[1]).getAttribute('aria-current'), 'true');
  assert.equal(await page.evaluate(() => document.activeElement.dataset.id), ids[1]);
  assert.notEqual(await page.locator('[data-testid="inbox-item"]').first().getAttribute('data-id'), ids[1],
    'not simply the first item');
  // A link to one resolved meanwhile says what became of it.
  assert.equal((await resolve(srv, 'bo', ids[0], 'deny', 'duplicate request')).status, 200);
  await page.goto(`${srv.base}/#/inbox?id=${ids[0]}`);
  await page.locator('[data-testid="inbox-link-notice"]')
    .filter({ hasText: new RegExp(`^${ids[0]} is no longer open: denied by bo at .*duplicate request`) }).waitFor();
  assert.deepEqual(page.errors, []);
  await page.context().close();
  for (const id of ids.slice(1))
    await resolve(srv, 'bo', id, 'deny', 'cleared by the test');
});

test('approve and allow the same for N hours: bounded by the queue, the exact scope, the next one approved by it', quick, async () => {
  await clearQueue('leads', 'lena');
  // Not offered where two approvals are needed.
  const pair = await escalate(payout(3000));
  const id = await escalate(refund(400));
  const lena = await open('lena', pair);
  assert.equal(await lena.locator('[data-testid="inbox-grant"]').count(), 0);
  await item(lena, id).click();
  await lena.locator(`article[data-id="${id}"]`).waitFor();
  await lena.locator('[data-testid="inbox-grant-open"]').click();
  const scope = {};
  for (const dd of await lena.locator('[data-testid="inbox-grant-scope"] dd').all())
    scope[await dd.getAttribute('data-scope')] = await dd.textContent();
  assert.deepEqual(scope, { queue: 'leads', agent: 'support-bot', workflow: 'refunds', action: 'issue_refund',
    rule: 'large-refund' });
  const hours = lena.getByLabel('Hours');
  assert.equal(await hours.getAttribute('max'), '8');
  const confirm = lena.locator('[data-testid="inbox-grant-confirm"]');
  await hours.fill('2');
  await lena.getByLabel('At most this many more (optional)').fill('1');
  await lena.getByLabel('Note').fill('damaged parcels from the flood; approve the same today');
  assert.equal(await confirm.textContent(), 'Approve and allow the same for 2 hours');
  await confirm.scrollIntoViewIfNeeded();
  await screenshot(lena, 'inbox-grant');
  // More than the queue allows is refused before anything is sent.
  await hours.fill('9');
  await confirm.click();
  await lena.locator('[data-testid="inbox-grant-error"]').filter({ hasText: 'at most 8' }).waitFor();
  assert.equal((await status(id)).status, 'open', 'nothing sent');
  await hours.fill('2');
  await confirm.click();
  const toast = lena.locator('[data-testid="status"]').filter({ hasText: new RegExp(`^${id} approved; standing approval g-\\d+ allows the same until `) });
  await toast.waitFor();
  const grantId = (await toast.textContent()).match(/g-\d+/)[0];
  await item(lena, id).waitFor({ state: 'detached' });
  assert.equal((await status(id)).status, 'approved');
  // The next refund of the same kind is approved by the grant, in lena's name.
  const next = await escalate(refund(350));
  const e = await waitFor(async () => {
    const x = await status(next);
    return x.status !== 'open' && x;
  }, limit(8), `${next} approved by ${grantId}`);
  assert.equal(e.status, 'approved');
  assert.equal(e.grant, grantId);
  assert.equal(e.resolved_by, 'lena');
  // Its cap (1) is reached: the one after waits for a person.
  const third = await escalate(refund(360));
  await lena.waitForTimeout(1500);
  assert.equal((await status(third)).status, 'open');
  await lena.context().close();
  await resolve(srv, 'lena', third, 'deny', 'cleared by the test');
  await resolve(srv, 'lena', pair, 'deny', 'cleared by the test');
});

test('#/grants lists the active standing approvals, and revoking one takes a note', quick, async () => {
  await clearQueue('leads', 'lena');
  const from = await escalate(refund(410));
  const g = await call(srv, 'POST', `/v1/escalations/${from}/grant`, { token: srv.tokens.lena,
    body: { hours: 3, max_count: 5, max_amount: 2000, note: 'flood week' } });
  assert.equal(g.status, 201, JSON.stringify(g.body));
  const gid = g.body.grant.id;
  const lena = await newPage(b);
  await signIn(lena, srv, 'lena');
  await lena.locator('[data-testid="nav-grants"]').click();
  const row = lena.locator(`[data-testid="grants-row"][data-id="${gid}"]`);
  await row.waitFor();
  const text = await row.textContent();
  for (const want of ['leads', 'support-bot', 'refunds', 'issue_refund', 'large-refund', 'lena', 'flood week', from])
    assert.ok(text.includes(want), `${want} in ${text}`);
  assert.match(await row.locator('[data-testid="grants-used"]').textContent(),
    /^0 of 5 escalations.*0 of 2000 in amount$/);
  assert.match(await row.locator('[data-testid="grants-expires"]').textContent(), /UTC.*in [12]h 5\dm/);
  assert.equal(await row.locator('[data-testid="grants-state"]').textContent(), 'active');
  await screenshot(lena, 'grants');
  // An auditor reads it, with no Revoke.
  const ada = await newPage(b);
  await signIn(ada, srv, 'ada');
  await ada.goto(`${srv.base}/#/grants`);
  await ada.locator(`[data-testid="grants-row"][data-id="${gid}"]`).waitFor();
  assert.equal(await ada.locator('[data-testid="grants-revoke"]').count(), 0);
  await ada.context().close();
  // Revoke asks for a note first.
  await row.getByRole('button', { name: `Revoke ${gid}` }).click();
  await row.locator('[data-testid="grants-revoke-confirm"]').click();
  await row.locator('[data-testid="grants-error"]').filter({ hasText: 'Say why in a note' }).waitFor();
  await row.getByLabel(`Why revoke ${gid}`).fill('the flood is over');
  await row.locator('[data-testid="grants-revoke-confirm"]').click();
  await lena.locator('[data-testid="status"]').filter({ hasText: `${gid} revoked` }).waitFor();
  await row.waitFor({ state: 'detached' });
  await lena.locator('[data-testid="grants-empty"]').waitFor();
  const all = await call(srv, 'GET', '/v1/grants', { token: srv.tokens.admin });
  const got = all.body.grants.find((x) => x.id === gid);
  assert.equal(got.revoked, true);
  assert.equal(got.revoked_by, 'lena');
  // With expired and revoked ones shown, it says who revoked it.
  await lena.getByLabel('Show expired and revoked too').check();
  await lena.locator(`[data-testid="grants-row"][data-id="${gid}"] [data-testid="grants-state"]`)
    .filter({ hasText: /^revoked by lena at / }).waitFor();
  // A new refund of the same kind waits for a person again.
  const after = await escalate(refund(420));
  await lena.waitForTimeout(1500);
  assert.equal((await status(after)).status, 'open');
  assert.deepEqual(lena.errors, []);
  await lena.context().close();
  await resolve(srv, 'lena', after, 'deny', 'cleared by the test');
});

test('notification failures: a strip on the inbox lists them with their last error; none, or no endpoint: no strip', quick, async () => {
  // No failures on this server: no strip; a server without the endpoint
  // (404) neither, and no error.
  const calm = await newPage(b);
  await signIn(calm, srv, 'bo');
  await calm.locator('[data-testid="inbox-count"]').filter({ hasText: /open escalation|Nothing waiting/ }).waitFor();
  await calm.waitForTimeout(500);
  assert.equal(await calm.locator('[data-testid="inbox-notify-failures"]').isVisible(), false);
  await calm.route((u) => u.pathname === '/v1/notifications', (route) => route.fulfill({ status: 404,
    json: { error: { code: 'not_found', message: 'no such endpoint' } } }));
  await calm.reload();
  await calm.locator('[data-testid="inbox-count"]').filter({ hasText: /open escalation|Nothing waiting/ }).waitFor();
  assert.equal(await calm.locator('[data-testid="inbox-notify-failures"]').isVisible(), false);
  assert.deepEqual(calm.errors, []);
  await calm.context().close();

  // A receiver that keeps failing, named by billing's notify.
  const hits = [];
  const receiver = createServer((req, res) => {
    hits.push(req.url);
    req.resume();
    res.writeHead(503, { 'Content-Type': 'text/plain' });
    res.end('receiver down for maintenance');
  });
  await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
  cleanup.push(() => new Promise((r) => receiver.close(r)));
  const dir = mkdtempSync(join(tmpdir(), 'charter-console-notify-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const url = `http://127.0.0.1:${receiver.address().port}/hooks/charter`;
  const yaml = readFileSync(POLICIES, 'utf8').replace('require_note: always',
    `require_note: always\n      notify: ${url}`);
  assert.notEqual(yaml, readFileSync(POLICIES, 'utf8'));
  writeFileSync(join(dir, 'charter.yaml'), yaml);
  const noisy = await startServer({ charter: join(dir, 'charter.yaml'),
    approvers: { bo: { queues: ['billing'], roles: ['billing-lead'] } } });
  const id = (await decide(noisy, waiver(30))).decision_id;
  const failing = await waitFor(async () => {
    const r = await call(noisy, 'GET', '/v1/notifications?status=failing', { token: noisy.tokens.admin });
    return r.status === 200 && r.body.notifications.length > 0 && r.body.notifications;
  }, limit(10), 'a failing notification');
  assert.ok(hits.length > 0, 'the receiver was called');
  const page = await newPage(b);
  await signIn(page, noisy, 'bo');
  const strip = page.locator('[data-testid="inbox-notify-failures"]');
  await strip.waitFor();
  assert.match(await strip.locator('h2').textContent(), /^\d+ notifications? failing/);
  const row = strip.locator('[data-testid="inbox-notify-failure"]').first();
  const t = await row.textContent();
  assert.ok(t.includes(id), t);
  const mine = failing.find((n) => n.decision_id === id);
  assert.ok(mine && t.includes(mine.target), `${t} shows ${JSON.stringify(mine)}`);
  assert.match(t, /failed attempts?/);
  const shown = await row.locator('[data-testid="inbox-notify-error"]').textContent();
  assert.ok(failing[0].last_error, 'the server records the last error');
  assert.ok(shown.startsWith('Last error: ') && shown.length > 'Last error: '.length, shown);
  assert.ok(failing.some((n) => shown === `Last error: ${n.last_error}`), `${shown} vs ${JSON.stringify(failing)}`);
  await screenshot(page, 'inbox-notify-failures');
  // Its decision is a link that opens the item.
  await row.getByRole('link', { name: id }).click();
  await page.locator(`[data-testid="inbox-detail"] article[data-id="${id}"]`).waitFor();
  assert.deepEqual(page.errors, []);
  await page.context().close();
});
