// peers.mjs - what the MCP peer tests share: the two official TypeScript SDK
// clients (2025-11-25 through @modelcontextprotocol/sdk, 2026-07-28 through
// @modelcontextprotocol/client), one conversation that calls every tool and
// resource and checks the answers, and reading the ledger back with
// `charter export`; and the time limits every test file keeps.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';

import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import { Client as ModernClient } from '@modelcontextprotocol/client';

import { killChildren, limit, watchdog } from '../lib/procs.mjs';

export { killChildren, limit };

export const CHARTER = process.env.CHARTER_BIN;
export const SOURCE = process.env.CHARTER_SOURCE_DIR;
export const SHOP = `${SOURCE}/tests/data/cli/shop.yaml`;
export const AGENT = 'support-bot';

if (!CHARTER || !SOURCE)
  throw new Error('CHARTER_BIN and CHARTER_SOURCE_DIR must be set (ctest does)');

// ---- Time limits (../lib/procs.mjs, shared with tests/console) ----------------
// Every test has a timeout of its own (limit(seconds), stretched by
// CHARTER_TEST_TIMEOUT_SCALE in the sanitizer builds), and when a test ends
// every process it left running is killed (killChildren: the SDK clients
// spawn `charter mcp` themselves, sometimes more than one). Under ctest, a
// watchdog also ends the whole file, its child processes killed, shortly
// before its ctest TIMEOUT (CHARTER_TEST_TIMEOUT), so a hang in charter
// fails in seconds and leaves nothing running.
watchdog();

export function legacyClient() {
  return new LegacyClient({ name: 'charter-test-legacy', version: '1.0.0' }, { capabilities: {} });
}

export function modernClient() {
  return new ModernClient(
    { name: 'charter-test-modern', version: '1.0.0' },
    { capabilities: {}, versionNegotiation: { mode: { pin: '2026-07-28' } } },
  );
}

function structured(result) {
  assert.equal(result.isError, false, JSON.stringify(result));
  assert.ok(result.structuredContent, 'a structured result');
  const text = result.content.find((c) => c.type === 'text');
  assert.ok(text && text.text.length > 0, 'a text block too');
  return result.structuredContent;
}

// Calls every tool and resource as AGENT and checks the answers. Returns the
// decision ids it made, in order, with their expected decisions.
export async function converse(client, runId) {
  const made = [];
  const tools = (await client.listTools()).tools;
  assert.deepEqual(tools.map((t) => t.name).sort(),
    ['await_approval', 'check_action', 'get_brief', 'report_outcome']);
  for (const t of tools) {
    assert.equal(t.inputSchema.type, 'object', t.name);
    assert.equal(t.outputSchema.type, 'object', t.name);
    assert.ok(t.description.length > 100, `${t.name} is described for a model`);
  }

  const brief = structured(await client.callTool({ name: 'get_brief', arguments: {} }));
  assert.equal(brief.agent, AGENT);
  assert.match(brief.brief, /refunds/);
  assert.match(brief.brief, /customer-trust/);

  // 30 <= 50: the quick-small-refund rule allows it.
  const small = structured(await client.callTool({
    name: 'check_action',
    arguments: { workflow: 'refunds', action: 'issue_refund', input: { amount: 30 },
      run_id: runId, rationale: 'Parcel arrived damaged', confidence: 0.9 },
  }));
  assert.equal(small.decision, 'allow');
  assert.equal(small.reason, 'rule');
  assert.match(small.decision_id, /^d-\d+$/);
  assert.match(small.guidance, /may perform/);
  made.push([small.decision_id, 'allow']);

  // 300 > 200: a team lead must approve.
  const large = structured(await client.callTool({
    name: 'check_action',
    arguments: { workflow: 'refunds', action: 'issue_refund', input: { amount: 300 }, run_id: runId },
  }));
  assert.equal(large.decision, 'escalate');
  assert.equal(large.escalation.queue, 'leads');
  assert.deepEqual(large.obligations, ['notify_customer']);
  assert.match(large.guidance, /await_approval/);
  made.push([large.decision_id, 'escalate']);

  // Over the boundary: denied whatever a person says.
  const huge = structured(await client.callTool({
    name: 'check_action',
    arguments: { workflow: 'refunds', action: 'issue_refund', input: { amount: 9000 }, run_id: runId },
  }));
  assert.equal(huge.decision, 'deny');
  assert.equal(huge.reason, 'boundary');
  assert.match(huge.guidance, /do NOT perform/);
  made.push([huge.decision_id, 'deny']);

  // Human-only workflow.
  const closing = structured(await client.callTool({
    name: 'check_action', arguments: { workflow: 'closures', action: 'close_account' },
  }));
  assert.equal(closing.decision, 'deny');
  assert.equal(closing.reason, 'human_only');
  made.push([closing.decision_id, 'deny']);

  const waiting = structured(await client.callTool({
    name: 'await_approval', arguments: { decision_id: large.decision_id, wait_seconds: 1 },
  }));
  assert.equal(waiting.status, 'open');
  assert.equal(waiting.decision, 'escalate');
  assert.equal(waiting.queue, 'leads');
  assert.match(waiting.guidance, /do NOT perform/);

  const outcome = structured(await client.callTool({
    name: 'report_outcome',
    arguments: { decision_id: small.decision_id, metric: 'csat', value: 5, note: 'thanked us' },
  }));
  assert.equal(outcome.recorded, true);
  assert.equal(outcome.decision_id, small.decision_id);
  assert.ok(Number.isInteger(outcome.entry));

  const resources = (await client.listResources()).resources;
  assert.deepEqual(resources.map((r) => r.uri).sort(), ['charter://boundaries', 'charter://values']);
  const values = JSON.parse((await client.readResource({ uri: 'charter://values' })).contents[0].text);
  assert.deepEqual(values.map((v) => v.id), ['customer-trust', 'speed']);
  const bounds = JSON.parse((await client.readResource({ uri: 'charter://boundaries' })).contents[0].text);
  assert.equal(bounds[0].id, 'refund-cap');
  assert.equal(bounds[0].source, 'Card scheme contract 4.2');

  // Arguments that break the input schema, or name another agent, get a
  // JSON-RPC error (-32602) and write nothing.
  for (const [name, args] of [
    ['check_action', { workflow: 'refunds' }],
    ['check_action', { workflow: 'refunds', action: 'issue_refund', agent: 'someone-else' }],
    ['check_action', { workflow: 'refunds', action: 'issue_refund', surprise: 1 }],
    ['check_action', { workflow: 'refunds', action: 'issue_refund', confidence: 7 }],
    ['await_approval', { decision_id: 'forty-two' }],
    ['no_such_tool', {}],
  ]) {
    await assert.rejects(client.callTool({ name, arguments: args }),
      (e) => e.code === -32602, `${name} ${JSON.stringify(args)} is refused with -32602`);
  }
  // What only the ledger knows is a tool execution error the model can read.
  for (const [name, args, why] of [
    ['await_approval', { decision_id: small.decision_id }, /not an escalated decision/],
    ['report_outcome', { decision_id: 'd-99999', metric: 'csat', value: 1 }, /no decision d-99999/],
    ['get_brief', { workflow: 'payroll' }, /payroll/],
  ]) {
    const r = await client.callTool({ name, arguments: args });
    assert.equal(r.isError, true, `${name} ${JSON.stringify(args)} is a tool error`);
    assert.match(r.content[0].text, why);
  }
  await assert.rejects(client.readResource({ uri: 'charter://nothing' }),
    (e) => e.code === -32602 || e.code === -32002);
  return made;
}

// The ledger's entries, through `charter export`.
export function ledgerEntries(ledger) {
  const out = execFileSync(CHARTER, ['export', ledger, '--format', 'jsonl'],
    { encoding: 'utf8', timeout: limit(10), killSignal: 'SIGKILL' });
  return out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

// Every decision made over MCP is in the ledger as a decision by AGENT, with
// the answer the agent got; nothing else was decided.
export function checkLedger(ledger, made, outcomes) {
  const entries = ledgerEntries(ledger);
  const decisions = entries.filter((e) => e.kind === 'decision');
  assert.equal(decisions.length, made.length, 'one ledger decision per check_action, no more');
  for (const [id, decision] of made) {
    const e = decisions.find((d) => `d-${d.seq}` === id);
    assert.ok(e, `${id} is in the ledger`);
    assert.equal(e.payload.request.agent, AGENT);
    assert.equal(e.payload.answer.decision, decision);
  }
  assert.equal(entries.filter((e) => e.kind === 'outcome').length, outcomes);
  const verify = execFileSync(CHARTER, ['verify', ledger],
    { encoding: 'utf8', timeout: limit(10), killSignal: 'SIGKILL' });
  assert.match(verify, /ok|verified/i);
}
