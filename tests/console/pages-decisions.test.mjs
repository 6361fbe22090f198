// pages-decisions.test.mjs - the console's decision search and decision
// page in a real browser (headless chromium) against a real charter serve:
// the search finds the escalations by rule id and opens one (request and
// answer), Older pages through every decision once, the export links give
// the filtered set as CSV and JSON lines, and a hostile request field stays
// text. The fixture (pages-fixture.mjs) fills the ledger.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { HOSTILE, indexed as indexedOn, noCspViolation, open, setup, shot, teardown } from './pages-fixture.mjs';
import { limit, waitFor } from './lib.mjs';

let ctx;
let srv;
let ids;
before(async () => {
  ctx = await setup();
  ({ srv, ids } = ctx);
});
after(() => teardown(ctx));
const indexed = () => indexedOn(srv);

// The decision ids listed in the results table, in order.
const listedIds = (page) => page.locator('[data-testid="decisions-table"] [data-testid="decision-link"]')
  .allTextContents();

test('the decision search finds the escalations by rule id and opens one: request and answer',
  { timeout: limit(20) }, async () => {
    await indexed();
    const page = await open(ctx, '#/decisions');
    await page.getByLabel('Rule id').fill('refund-large-needs-lead');
    await page.getByRole('button', { name: 'Search' }).click();
    await waitFor(async () => (await listedIds(page)).length === 3, limit(8), 'three results');
    assert.deepEqual(await listedIds(page), [...ids.large].reverse(), 'newest first, only that rule');
    assert.match(page.url(), /#\/decisions\?rule=refund-large-needs-lead$/, 'the filter is in the address');
    await shot(page, 'decisions');

    await page.getByRole('link', { name: ids.large[0], exact: true }).click();
    const request = page.locator('[data-testid="decision-request"]');
    await request.waitFor();
    const req = await request.innerText();
    assert.match(req, /issue_refund/);
    assert.match(req, /amount\s+400/);
    assert.match(req, /destination\s+card-1/);
    const answer = await page.locator('[data-testid="decision-answer"]').innerText();
    assert.match(answer, /escalate/);
    assert.match(answer, /Refunds over 250 EUR need a team lead's approval\./);
    assert.match(answer, /refund-large-needs-lead/);
    const version = await page.locator('[data-testid="decision-charter-link"]').innerText();
    assert.match(version, /^sha256:[0-9a-f]{64}$/);
    assert.match(await page.locator('[data-testid="decision-history"]').innerText(), /support-leads/);
    await shot(page, 'decision');
  });

test('paging with Older walks every decision once, newest first', { timeout: limit(20) }, async () => {
  await indexed();
  const page = await open(ctx, '#/decisions?workflow=refunds&limit=5');
  const seen = [];
  for (let n = 0; n < 5; n++) {
    await page.locator('[data-testid="decisions-results"][aria-busy="false"]').waitFor();
    const got = await listedIds(page);
    assert.ok(got.length > 0 && got.length <= 5, `page ${n + 1}: ${got}`);
    seen.push(...got);
    const older = page.getByRole('link', { name: 'Older' });
    if (await older.count() === 0)
      break;
    await older.click();
    await waitFor(async () => !(await listedIds(page)).includes(got[0]), limit(8), 'the older page');
  }
  const all = [...ids.small, ...ids.large, ...ids.denied, ids.hostile];
  assert.equal(seen.length, all.length, `every decision once: ${seen}`);
  const num = (id) => Number(id.slice(2));
  assert.deepEqual(seen, [...all].sort((a, b) => num(b) - num(a)), 'newest first, no repeats');
});

test('the export links give the filtered set as CSV and JSON lines', { timeout: limit(20) }, async () => {
  await indexed();
  const page = await open(ctx, '#/decisions?rule=refund-small-notify');
  const csvLink = page.locator('[data-testid="decisions-export-csv"]');
  await csvLink.waitFor();
  const href = await csvLink.getAttribute('href');
  assert.match(href, /^\/v1\/decisions\?rule=refund-small-notify&format=csv$/);
  const got = await page.evaluate(async (h) => {
    const r = await fetch(h);
    return { status: r.status, type: r.headers.get('content-type'), text: await r.text() };
  }, href);
  assert.equal(got.status, 200, got.text);
  assert.match(got.type, /csv/);
  const lines = got.text.trim().split(/\r?\n/);
  assert.match(lines[0], /decision_id/, 'a header row');
  const want = [...ids.small, ids.hostile];
  assert.equal(lines.length - 1, want.length, got.text);
  for (const id of want)
    assert.ok(lines.some((l) => l.startsWith(`${id},`) || l.includes(`,${id},`) || l.startsWith(`"${id}"`)),
      `${id} in the CSV:\n${got.text}`);
  for (const l of lines.slice(1))
    assert.match(l, /refund-small-notify/);
  for (const id of [...ids.large, ...ids.denied])
    assert.ok(!got.text.includes(`${id},`), `${id} is not in the filtered set`);

  const jsonl = await page.locator('[data-testid="decisions-export-jsonl"]').getAttribute('href');
  assert.match(jsonl, /^\/v1\/decisions\?rule=refund-small-notify&format=jsonl$/);
  const rows = await page.evaluate(async (h) => (await (await fetch(h)).text()), jsonl);
  const objs = rows.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(objs.map((o) => o.decision_id).sort(), [...want].sort());
});

test('a hostile request field renders as text on the decision page', { timeout: limit(20) }, async () => {
  const page = await open(ctx, `#/decision/${ids.hostile}`);
  const request = page.locator('[data-testid="decision-request"]');
  await request.waitFor();
  const text = await request.innerText();
  assert.ok(text.includes(HOSTILE), text);
  assert.ok(text.includes('<script>alert(2)</script>'), text);
  assert.ok(text.includes('javascript:alert(3)'), text);
  assert.equal(await page.locator('main img').count(), 0, 'no image made from the field');
  assert.equal(await page.locator('main script').count(), 0);
  const hrefs = await page.locator('main a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
  assert.ok(hrefs.every((h) => h.startsWith('#/') || h.startsWith('/')), hrefs.join(' '));
  await page.waitForTimeout(300);
  assert.deepEqual(page.dialogs, [], 'no script ran');
  noCspViolation(page);
});
