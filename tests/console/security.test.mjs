// security.test.mjs - what the console must refuse, in headless chromium
// against a real `charter serve` on 127.0.0.1: a read-only key (auditor)
// sees the inbox without resolve buttons and its forged POST is refused; a
// cross-site POST (a page served from another 127.0.0.1 port, which is the
// same site, so the SameSite cookie goes along) is refused for want of the
// CSRF header, and a foreign Origin is refused even with it; a hostile
// request field renders as text; signing out ends the session.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, test } from 'node:test';

import { decide, decision, launch, limit, newPage, refund, screenshot, signIn, startServer,
  stopAll } from './lib.mjs';

let srv;
let b;
before(async () => {
  srv = await startServer({
    approvers: { lena: { queues: ['leads'], roles: ['support-lead'] } },
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

// POST /v1/escalations/{id}/resolve from inside the page, with its cookie
// and (when csrf) the session's CSRF token.
const postFromPage = (page, id, csrf, body) => page.evaluate(async ([path, withCsrf, b]) => {
  const headers = { 'Content-Type': 'application/json' };
  if (withCsrf)
    headers['X-CSRF-Token'] = (await (await fetch('/v1/session')).json()).csrf;
  const res = await fetch(path, { method: 'POST', headers, body: JSON.stringify(b) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}, [`/v1/escalations/${id}/resolve`, csrf, body]);

test('an auditor sees the inbox read-only, and its forged resolve is refused', quick, async () => {
  const id = (await decide(srv, refund(500))).decision_id;
  const page = await newPage(b);
  await signIn(page, srv, 'ada');
  assert.equal(await page.locator('[data-testid="who-role"]').textContent(), 'auditor');
  await page.locator('[data-testid="inbox-readonly"]').waitFor();
  await item(page, id).click();
  await page.locator(`article[data-id="${id}"]`).waitFor();
  assert.equal(await page.locator('[data-testid="inbox-approve"], [data-testid="inbox-deny"]').count(), 0);
  assert.equal(await page.locator('[data-testid="inbox-resolve"]').count(), 0);
  assert.ok(!(await page.locator('[data-testid="nav"] a').allTextContents()).includes('History'));
  // The keyboard shortcut does nothing either.
  await item(page, id).focus();
  await page.keyboard.press('a');
  await screenshot(page, 'inbox-readonly');
  const forged = await postFromPage(page, id, true, { resolution: 'approve', note: 'sneaky' });
  assert.equal(forged.status, 403);
  assert.equal(forged.body.error.code, 'forbidden');
  assert.equal((await decision(srv, id)).escalation.status, 'open');
  await page.context().close();
  // An admin's inbox is read-only too: only approvers resolve.
  const admin = await newPage(b);
  await signIn(admin, srv, 'admin');
  await admin.locator('[data-testid="inbox-readonly"]').waitFor();
  await item(admin, id).click();
  await admin.locator(`article[data-id="${id}"]`).waitFor();
  assert.equal(await admin.locator('[data-testid="inbox-resolve"]').count(), 0);
  await admin.context().close();
});

test('a cross-site POST is refused: no CSRF header, or a foreign Origin', quick, async () => {
  const id = (await decide(srv, refund(600))).decision_id;
  const page = await newPage(b);
  await signIn(page, srv, 'lena');
  // Without the CSRF header, from the console's own origin: refused.
  const bare = await postFromPage(page, id, false, { resolution: 'approve', note: 'x' });
  assert.equal(bare.status, 403);
  assert.equal(bare.body.error.code, 'csrf');
  // With the cookie and the right CSRF token but another Origin: refused.
  const csrf = await page.evaluate(async () => (await (await fetch('/v1/session')).json()).csrf);
  const foreign = await page.request.post(`${srv.base}/v1/escalations/${id}/resolve`, {
    headers: { Origin: 'http://evil.example', 'X-CSRF-Token': csrf, 'Content-Type': 'application/json' },
    data: JSON.stringify({ resolution: 'approve', note: 'x' }) });
  assert.equal(foreign.status(), 403);
  assert.equal((await foreign.json()).error.code, 'csrf');
  // A page of another origin (another port of 127.0.0.1: the same site, so
  // the SameSite=Strict cookie goes along) posts a form, the classic
  // JSON-as-text/plain trick.
  const evil = createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end('<!DOCTYPE html><form method="POST" enctype="text/plain" ' +
      `action="${srv.base}/v1/escalations/${id}/resolve">` +
      '<input name=\'{"resolution":"approve","note":"\' value=\'x"}\'></form>' +
      '<script>document.forms[0].submit()</script>');
  });
  await new Promise((r) => evil.listen(0, '127.0.0.1', r));
  try {
    const answered = page.waitForResponse((r) => r.url().endsWith(`/v1/escalations/${id}/resolve`));
    await page.goto(`http://127.0.0.1:${evil.address().port}/`);
    const r = await answered;
    assert.equal(r.status(), 403);
    assert.equal(r.request().headers()['x-csrf-token'], undefined);
  } finally {
    evil.close();
  }
  assert.equal((await decision(srv, id)).escalation.status, 'open', 'nothing was resolved');
  await page.context().close();
});

test('a hostile request field renders as inert text', quick, async () => {
  const hostile = '<script>alert(1)</script>';
  const esc = await decide(srv, refund(700, { note: hostile, link: 'javascript:alert(2)',
    html: '<img src=x onerror=alert(3)>' }));
  const id = esc.decision_id;
  const page = await newPage(b);
  await signIn(page, srv, 'lena');
  await item(page, id).click();
  const detail = page.locator(`article[data-id="${id}"]`);
  await detail.waitFor();
  await detail.getByText(hostile, { exact: true }).waitFor();
  await detail.getByText('javascript:alert(2)', { exact: true }).waitFor();
  await detail.getByText('<img src=x onerror=alert(3)>', { exact: true }).waitFor();
  const found = await page.evaluate(() => ({
    scripts: [...document.scripts].filter((s) => !s.src).length,
    imgs: [...document.images].filter((i) => !i.src.endsWith('/console/favicon.svg')).length,
    links: [...document.querySelectorAll('[href]')].filter((a) => /^javascript:/i.test(a.getAttribute('href'))).length,
  }));
  assert.deepEqual(found, { scripts: 0, imgs: 0, links: 0 });
  // The shell's el() itself refuses an address or markup from data.
  const refused = await page.evaluate(() => ['javascript:alert(4)', '//evil.example/x', 'data:text/html,x']
    .map((href) => {
      try {
        window.Charter.el('a', { href });
        return 'made';
      } catch {
        return 'refused';
      }
    }).concat((() => {
      try {
        window.Charter.el('div', { innerHTML: '<b>x</b>' });
        return 'made';
      } catch {
        return 'refused';
      }
    })()));
  assert.deepEqual(refused, ['refused', 'refused', 'refused', 'refused']);
  await page.waitForTimeout(300); // an onerror handler would have run by now
  assert.deepEqual(page.dialogs, [], 'no dialog opened');
  await page.context().close();
});

test('signing out ends the session, and the old cookie no longer works', quick, async () => {
  const page = await newPage(b);
  await signIn(page, srv, 'lena');
  const before = (await page.context().cookies()).find((c) => c.name === 'charter_session');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('Access token').waitFor();
  await page.locator('[data-testid="status"]').filter({ hasText: 'Signed out' }).waitFor();
  assert.equal(await page.locator('[data-testid="who-name"]').count(), 0);
  assert.equal(await page.locator('[data-testid="nav"] a').count(), 0);
  await page.reload();
  await page.getByLabel('Access token').waitFor();
  // The old cookie, sent again by hand, is no longer a session.
  const r = await fetch(`${srv.base}/v1/session`, {
    headers: { Cookie: `charter_session=${before.value}` }, signal: AbortSignal.timeout(limit(5)) });
  assert.equal(r.status, 401);
  await page.context().close();
});
