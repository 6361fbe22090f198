// pages-alignment.test.mjs - the console's alignment page and readiness
// map in a real browser (headless chromium) against a real charter serve
// whose ledger has four days of outcome reports where resolution time
// improves while satisfaction and repeat contacts degrade: the warning comes
// first, the charts picture loads; the map picture loads and the table gives
// each workflow's recommendation.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { noCspViolation, open, setup, shot, teardown } from './pages-fixture.mjs';
import { limit, waitFor } from './lib.mjs';

let ctx;
let srv;
let ids;
before(async () => {
  ctx = await setup();
  ({ srv, ids } = ctx);
});
after(() => teardown(ctx));

test('the alignment page shows the warning first, then the charts picture', { timeout: limit(20) }, async () => {
  const page = await open(ctx, '#/alignment?by=day');
  const warn = page.locator('[data-testid="alignment-warnings"]');
  await warn.waitFor();
  assert.equal(await warn.getAttribute('role'), 'alert');
  const text = await warn.innerText();
  assert.match(text, /resolution_time_hours/);
  assert.match(text, /improved \(5\.5 -> 3\.6\)/);
  assert.match(text, /'csat' degraded \(4\.6 -> 4\.2, now past its limit\)/);
  assert.match(text, /repeat_contact_rate/);
  // First: the warning is the first thing below the period form, above the
  // picture and every table.
  const first = await page.evaluate(() => {
    const body = document.querySelector('[data-page="alignment"] form').nextElementSibling;
    return body.firstElementChild.getAttribute('data-testid');
  });
  assert.equal(first, 'alignment-warnings');
  const img = page.locator('img[data-testid="alignment-chart"]');
  await img.waitFor({ state: 'attached' });
  assert.equal(await img.getAttribute('src'), '/v1/report?by=day&format=svg');
  assert.match(await img.getAttribute('alt'), /2 warnings \(resolution_time_hours improving while csat degrades/);
  await waitFor(() => img.evaluate((i) => i.complete && i.naturalWidth > 0), limit(8),
    'the charts picture to load');
  const rules = await page.locator('[data-testid="alignment-rules"]').innerText();
  assert.match(rules, /refund-large-needs-lead/);
  assert.match(await page.locator('[data-testid="alignment-agents"]').innerText(), /support-agent\s+12\s+7\s+3\s+2/);
  await shot(page, 'alignment');
  noCspViolation(page);
});

test('the readiness map shows the picture and each workflow\'s recommendation', { timeout: limit(20) }, async () => {
  const page = await open(ctx, '#/map');
  const img = page.locator('img[data-testid="map-picture"]');
  await img.waitFor({ state: 'attached' });
  await waitFor(() => img.evaluate((i) => i.complete && i.naturalWidth > 0), limit(8), 'the map picture');
  const row = page.locator('[data-testid="map-table"] tbody tr').filter({ hasText: 'refunds' });
  assert.match(await row.innerText(), /agent-ready[\s\S]*step-back[\s\S]*agent-augmented/);
  await shot(page, 'map');
  noCspViolation(page);
});
