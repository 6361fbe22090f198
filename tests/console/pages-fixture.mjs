// pages-fixture.mjs - what the tests of the console's pages for architects
// and auditors (pages-*.test.mjs) share: a real `charter serve` of a copy of
// examples/fintech-support/charter (a test may change it and reload), its
// ledger filled through the API (small refunds allowed, large ones
// escalated, refunds to another card denied by a boundary, one request with
// hostile fields, and four days of outcome reports that make the alignment
// warning), a headless chromium, and an auditor ('audra') to sign in as.
// Each test file starts its own, so each stays well inside the time run.sh
// gives a file.
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { SOURCE, call, launch, limit, newPage, signIn, startServer, stopAll, waitFor } from './lib.mjs';
import { smallPng } from './png.mjs';

export const AGENT = 'support-agent';
export const HOSTILE = '<img src=x onerror=alert(1)>';

export const refund = (amount, destination, extra = {}) => ({ agent: AGENT, workflow: 'refunds',
  action: 'issue_refund', confidence: 0.9, rationale: 'The parcel arrived damaged.',
  input: { amount, currency: 'EUR', destination, ...extra },
  subject: { customer_id: 'c-1001', tenure_years: 3, original_payment_method: 'card-1' } });

async function decide(srv, request) {
  const r = await call(srv, 'POST', '/v1/decide', { token: srv.tokens[AGENT],
    body: { run_id: `run-${process.hrtime.bigint()}`, ...request } });
  assert.equal(r.status, 200, `decide: ${JSON.stringify(r.body)}`);
  return r.body.decision_id;
}

// setup() -> {srv, browser, page, charterDir, ids: {small, large, denied,
// hostile}}; page is signed in as the auditor 'audra'.
export async function setup() {
  const charterDir = mkdtempSync(join(tmpdir(), 'charter-pages-'));
  cpSync(`${SOURCE}/examples/fintech-support/charter`, charterDir, { recursive: true });
  const srv = await startServer({ charter: charterDir, agents: [AGENT], admins: ['admin'],
    auditors: ['audra'] });
  const ids = { small: [], large: [], denied: [], hostile: null };
  for (let i = 0; i < 6; i++)
    ids.small.push(await decide(srv, refund(35, 'card-1')));
  for (let i = 0; i < 3; i++)
    ids.large.push(await decide(srv, refund(400, 'card-1')));
  for (let i = 0; i < 2; i++)
    ids.denied.push(await decide(srv, refund(120, 'card-9')));
  ids.hostile = await decide(srv, { ...refund(20, 'card-1', { note: HOSTILE, link: 'javascript:alert(3)' }),
    rationale: '<script>alert(2)</script>' });
  // The make-ledger.sh numbers: resolution time falls while satisfaction
  // and repeat contacts get worse, day after day.
  const days = [['23', 5.5, 4.6, 0.05], ['24', 4.8, 4.5, 0.06], ['25', 4.1, 4.35, 0.07],
    ['26', 3.6, 4.2, 0.09]];
  for (const [d, hours, csat, repeat] of days) {
    for (const [metric, value] of [['resolution_time_hours', hours], ['csat', csat],
      ['repeat_contact_rate', repeat]]) {
      const r = await call(srv, 'POST', '/v1/outcomes', { token: srv.tokens.admin, body: {
        workflow: 'refunds', from: `2026-11-${d}T00:00:00Z`, to: `2026-11-${Number(d) + 1}T00:00:00Z`,
        metric, value } });
      assert.equal(r.status, 201, `outcome: ${JSON.stringify(r.body)}`);
    }
  }
  const browser = await launch();
  const page = await newPage(browser);
  await signIn(page, srv, 'audra');
  return { srv, browser, page, charterDir, ids, loads: 0 };
}

// open(ctx, hash) -> ctx.page, loaded afresh at '/?n=N#/...' (a new document:
// nothing of the page before stays; the session cookie keeps it signed in).
export async function open(ctx, hash) {
  ctx.loads += 1;
  await ctx.page.goto(`${ctx.srv.base}/?n=${ctx.loads}${hash}`);
  return ctx.page;
}

export async function teardown(ctx) {
  await stopAll();
  if (ctx && ctx.charterDir)
    rmSync(ctx.charterDir, { recursive: true, force: true });
}

// The search index follows the ledger in the background: wait until it has
// read everything written so far.
export async function indexed(srv) {
  await waitFor(async () => {
    const r = await call(srv, 'GET', '/v1/decisions?limit=1', { token: srv.tokens.admin });
    return r.status === 200 && r.body.indexed_through >= r.body.ledger_seq;
  }, limit(8), 'the search index to catch up with the ledger (GET /v1/decisions)');
}

// shot(page, name): with CHARTER_SCREENSHOTS=DIR, saves the page (1280x800)
// as DIR/name.png, made small for the docs (png.mjs: under 150 KB).
export async function shot(page, name) {
  const dir = process.env.CHARTER_SCREENSHOTS;
  if (!dir)
    return;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}.png`), smallPng(await page.screenshot()));
}

// No Content-Security-Policy violation on the page so far (lib.mjs's
// newPage collects the console's errors in page.errors).
export function noCspViolation(page) {
  assert.deepEqual(page.errors.filter((e) => /Content Security Policy|Refused to/i.test(e)), []);
}
