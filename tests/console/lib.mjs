// lib.mjs - what the console's browser tests share: a real `charter serve`
// on 127.0.0.1 (port 0) with keys made by `charter keys` and a fresh ledger
// the test fills through the API; headless Debian chromium through
// playwright-core; signing a page in through the form; calls to the API as
// an agent or a person; bounded waits; screenshots for the docs
// (CHARTER_SCREENSHOTS=DIR saves PNGs there, viewport 1280x800).
//
// Time limits: every wait here is bounded (limit(seconds), stretched by
// CHARTER_TEST_TIMEOUT_SCALE in the sanitizer builds); under ctest a watchdog
// ends the file, its child processes killed, shortly before the ctest
// TIMEOUT (CHARTER_TEST_TIMEOUT), so a hang fails fast and leaves nothing
// running. Each file calls stopAll() in its after() hook.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { chromium } from 'playwright-core';

import { killChildren, limit, spawnServe, watchdog } from '../lib/procs.mjs';

export { killChildren, limit };

export const CHARTER = process.env.CHARTER_BIN;
export const SOURCE = process.env.CHARTER_SOURCE_DIR;
export const CHROMIUM = process.env.CHARTER_CHROMIUM || '/usr/bin/chromium';
export const CONSOLE_CHARTER = `${SOURCE}/tests/console/data/console.yaml`;
if (!CHARTER || !SOURCE)
  throw new Error('CHARTER_BIN and CHARTER_SOURCE_DIR must be set (ctest does)');

const running = new Set(); // servers and browsers not yet stopped
watchdog();

// Stops every server and browser still running (each within its own bound);
// fails when a server did not exit 0 on SIGTERM (a sanitizer's report at
// exit, a leak), with what it printed.
export async function stopAll() {
  const bad = [];
  for (const r of [...running]) {
    const code = await r.stop().catch((e) => String(e));
    if (r.log && code !== 0)
      bad.push(`charter serve exited ${code} on SIGTERM:\n${r.log()}`);
  }
  killChildren();
  if (bad.length)
    throw new Error(bad.join('\n'));
}

// ---- bounded waits --------------------------------------------------------------
// waitFor(fn, ms, what): calls fn until it returns a truthy value (returned),
// every 100 ms, failing with `what` after ms.
export async function waitFor(fn, ms, what) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last)
        return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end)
      throw new Error(`timed out after ${ms} ms waiting for ${what} (last: ${last})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// ---- charter serve --------------------------------------------------------------
function cli(args) {
  return execFileSync(CHARTER, args, { encoding: 'utf8', timeout: limit(10), killSignal: 'SIGKILL' });
}

// startServer({charter, agents, approvers: {name: {queues, roles}}, admins,
// auditors, args}) -> {base, tokens, ledger, dir, log(), stop()}.
export async function startServer(opts = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'charter-console-'));
  const keys = join(dir, 'keys');
  const ledger = join(dir, 'ledger.db');
  const tokens = {};
  const token = (out, what) => {
    const t = out.match(/chk_[0-9a-f]+_[A-Za-z0-9_-]+/)?.[0];
    if (!t)
      throw new Error(`no token in 'charter keys ${what}' output: ${out}`);
    return t;
  };
  for (const a of opts.agents ?? ['support-bot'])
    tokens[a] = token(cli(['keys', 'agent', '--dir', keys, '--agent', a]), 'agent');
  for (const [name, spec] of Object.entries(opts.approvers ?? {})) {
    const args = ['keys', 'approver', '--dir', keys, '--name', name];
    for (const q of spec.queues ?? [])
      args.push('--queue', q);
    for (const r of spec.roles ?? [])
      args.push('--role', r);
    tokens[name] = token(cli(args), 'approver');
  }
  for (const a of opts.admins ?? ['admin'])
    tokens[a] = token(cli(['keys', 'admin', '--dir', keys, '--name', a]), 'admin');
  for (const a of opts.auditors ?? [])
    tokens[a] = token(cli(['keys', 'auditor', '--dir', keys, '--name', a]), 'auditor');

  const { proc, base, log: printed } = await spawnServe(CHARTER, ['--charter',
    opts.charter ?? CONSOLE_CHARTER, '--ledger', ledger, '--keys', keys,
    '--listen', '127.0.0.1:0', ...(opts.args ?? [])]);
  // A server that dies under a test says why (a sanitizer's report).
  proc.on('exit', (code, sig) => {
    if (!stopping)
      console.error(`charter serve exited (${code ?? sig}) while the tests ran:\n${printed().slice(-8000)}`);
  });
  let stopping = false;
  const srv = {
    base, tokens, ledger, dir,
    log: () => printed().slice(-4000),
    async stop() { // the exit code (null when it had to be killed)
      running.delete(srv);
      stopping = true;
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise((resolve) => proc.on('exit', resolve));
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), limit(10));
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
      return proc.exitCode;
    },
  };
  running.add(srv);
  return srv;
}

// call(srv, method, path, {token, body, headers, timeout}) -> {status, headers, body}:
// one request with a bearer key (or none), bounded in time.
export async function call(srv, method, path, { token, body, headers, timeout } = {}) {
  const h = { ...(headers ?? {}) };
  if (token)
    h.Authorization = `Bearer ${token}`;
  if (body !== undefined)
    h['Content-Type'] = 'application/json';
  const res = await fetch(srv.base + path, {
    method, headers: h, body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeout ?? limit(10)),
  });
  const text = await res.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = text;
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

// decide(srv, request, agent): the agent asks; returns the answer (throws
// unless 200).
export async function decide(srv, request, agent = 'support-bot') {
  const r = await call(srv, 'POST', '/v1/decide', { token: srv.tokens[agent],
    body: { agent, run_id: `run-${process.hrtime.bigint()}`, ...request } });
  if (r.status !== 200)
    throw new Error(`decide answered ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body;
}

// A refund that escalates to the leads queue; a fee waiver to billing.
export const refund = (amount, extra = {}) => ({ workflow: 'refunds', action: 'issue_refund',
  confidence: 0.8, rationale: 'The parcel arrived damaged.',
  input: { amount, currency: 'EUR', destination: 'card-4242', ...extra },
  subject: { customer_id: 'c-1001', tenure_years: 4 } });
export const waiver = (fee = 15) => ({ workflow: 'billing', action: 'waive_fee',
  input: { fee }, subject: { customer_id: 'c-2002' } });

// The escalation as the ledger has it now (read as an admin).
export async function decision(srv, id) {
  const r = await call(srv, 'GET', `/v1/decisions/${id}`, { token: srv.tokens.admin });
  if (r.status !== 200)
    throw new Error(`GET /v1/decisions/${id} answered ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body;
}

export const resolve = (srv, who, id, resolution, note) =>
  call(srv, 'POST', `/v1/escalations/${id}/resolve`, { token: srv.tokens[who],
    body: note === undefined ? { resolution } : { resolution, note } });

// ---- the browser ----------------------------------------------------------------
export async function launch() {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true,
    timeout: limit(20) });
  const entry = { stop: () => browser.close() };
  running.add(entry);
  return { browser, async close() { running.delete(entry); await browser.close(); } };
}

// A fresh page (its own cookies) at 1280x800. page.dialogs collects every
// alert/confirm/prompt opened (dismissed at once); page.errors every
// uncaught page error and every Content-Security-Policy violation the
// console reports.
export async function newPage(b) {
  const context = await b.browser.newContext({ viewport: { width: 1280, height: 800 } });
  context.setDefaultTimeout(limit(8));
  const page = await context.newPage();
  page.dialogs = [];
  page.errors = [];
  page.on('dialog', (d) => { page.dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  page.on('pageerror', (e) => page.errors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy/i.test(m.text()))
      page.errors.push(m.text());
  });
  return page;
}

// Opens the console and signs in through the form with `name`'s token.
export async function signIn(page, srv, name) {
  await page.goto(`${srv.base}/`);
  await page.getByLabel('Access token').fill(srv.tokens[name]);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('[data-testid="who-name"]').filter({ hasText: name }).waitFor();
}

// Saves a screenshot for the docs when CHARTER_SCREENSHOTS names a folder.
export async function screenshot(page, name) {
  const dir = process.env.CHARTER_SCREENSHOTS;
  if (!dir)
    return;
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}.png`) });
}
