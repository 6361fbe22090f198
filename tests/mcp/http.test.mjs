// http.test.mjs - MCP over Streamable HTTP at /mcp of a real `charter
// serve`, driven by the official TypeScript SDK clients of 2025-11-25 and
// 2026-07-28 with an agent's bearer key, plus raw requests for what the
// transport must refuse. The ledger must then hold exactly the decisions the
// clients made.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { StreamableHTTPClientTransport as LegacyHttp } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StreamableHTTPClientTransport as ModernHttp } from '@modelcontextprotocol/client';

import { checkLedger, converse, killChildren, ledgerEntries, legacyClient, limit,
  modernClient } from './peers.mjs';
import { startServe } from './serve.mjs';

let srv;
const made = [];
before(async () => { srv = await startServe(); });
after(async () => {
  if (srv) {
    await srv.stop();
    srv.cleanup();
  }
  killChildren();
});

// Each test takes about a second; 8 s (scaled) means charter hangs.
const quick = { timeout: limit(8) };

const auth = () => ({ Authorization: `Bearer ${srv.token}` });

test('a 2025-11-25 client (@modelcontextprotocol/sdk) over Streamable HTTP', quick, async () => {
  const client = legacyClient();
  await client.connect(new LegacyHttp(new URL(srv.url), { requestInit: { headers: auth() } }));
  assert.equal(client.getServerVersion().name, 'charter');
  made.push(...await converse(client, 'run-http-legacy'));
  await client.close();
});

test('a 2026-07-28 client (@modelcontextprotocol/client) over Streamable HTTP', quick, async () => {
  const client = modernClient();
  await client.connect(new ModernHttp(new URL(srv.url), { requestInit: { headers: auth() } }));
  assert.equal(client.getProtocolEra(), 'modern');
  made.push(...await converse(client, 'run-http-modern'));
  await client.close();
});

const modernBody = (method, params = {}) => JSON.stringify({
  jsonrpc: '2.0', id: 1, method,
  params: { ...params, _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28',
    'io.modelcontextprotocol/clientCapabilities': {} } },
});

async function post(body, headers = {}) {
  const res = await fetch(srv.url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream',
      ...auth(), ...headers },
    body,
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : null };
}

test('the transport refuses what it must, and bad input gets JSON-RPC errors', quick, async () => {
  const v = { 'MCP-Protocol-Version': '2026-07-28' };
  // No key: the server's 401, before MCP.
  const anon = await fetch(srv.url, { method: 'POST', headers: { 'Content-Type': 'application/json',
    Accept: 'application/json, text/event-stream' }, body: modernBody('tools/list') });
  assert.equal(anon.status, 401);
  // No sessions, no standalone stream.
  const get = await fetch(srv.url, { headers: { ...auth(), Accept: 'text/event-stream' } });
  assert.equal(get.status, 405);
  assert.match(get.headers.get('allow') ?? '', /POST/);
  // DNS rebinding.
  const evil = await post(modernBody('tools/list'), { ...v, 'Mcp-Method': 'tools/list',
    Origin: 'http://evil.example.com' });
  assert.equal(evil.status, 403);
  // Malformed JSON, invalid request, unknown method, wrong version, header mismatch.
  let r = await post('{"jsonrpc":"2.0","id":1,', v);
  assert.equal(r.status, 400);
  assert.equal(r.json.error.code, -32700);
  r = await post('[{"jsonrpc":"2.0","id":1,"method":"tools/list"}]', v);
  assert.equal(r.json.error.code, -32600);
  r = await post(modernBody('tools/destroy'), { ...v, 'Mcp-Method': 'tools/destroy' });
  assert.equal(r.status, 404);
  assert.equal(r.json.error.code, -32601);
  r = await post(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list',
    params: { _meta: { 'io.modelcontextprotocol/protocolVersion': '1999-01-01',
      'io.modelcontextprotocol/clientCapabilities': {} } } }),
  { 'MCP-Protocol-Version': '1999-01-01', 'Mcp-Method': 'tools/list' });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.code, -32022);
  assert.ok(r.json.error.data.supported.includes('2026-07-28'));
  r = await post(modernBody('tools/call', { name: 'check_action',
    arguments: { workflow: 'refunds', action: 'issue_refund', input: { amount: 10 } } }),
  { ...v, 'Mcp-Method': 'tools/call', 'Mcp-Name': 'get_brief' });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.code, -32020);
  // Deciding as another agent is refused like over HTTP.
  r = await post(modernBody('tools/call', { name: 'check_action',
    arguments: { agent: 'someone-else', workflow: 'refunds', action: 'issue_refund' } }),
  { ...v, 'Mcp-Method': 'tools/call', 'Mcp-Name': 'check_action' });
  assert.equal(r.json.error.code, -32602);
  // A notification is accepted with nothing to say.
  r = await post(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
    { 'MCP-Protocol-Version': '2025-11-25' });
  assert.equal(r.status, 202);
});

test('a decision over MCP is recorded exactly like one over POST /v1/decide', quick, async () => {
  const ask = { workflow: 'refunds', action: 'issue_refund', input: { amount: 120 },
    subject: { customer_id: 'c-1' }, rationale: 'late parcel', run_id: 'run-same' };
  const viaHttp = await fetch(`${srv.base}/v1/decide`, {
    method: 'POST', headers: { 'Content-Type': 'application/json', ...auth() },
    body: JSON.stringify({ agent: 'support-bot', ...ask }),
  });
  assert.equal(viaHttp.status, 200);
  const httpAnswer = await viaHttp.json();
  const r = await post(modernBody('tools/call', { name: 'check_action', arguments: ask }),
    { 'MCP-Protocol-Version': '2026-07-28', 'Mcp-Method': 'tools/call', 'Mcp-Name': 'check_action' });
  const mcpAnswer = r.json.result.structuredContent;
  assert.equal(mcpAnswer.decision, httpAnswer.decision);
  made.push([httpAnswer.decision_id, httpAnswer.decision], [mcpAnswer.decision_id, mcpAnswer.decision]);
  const byId = (id) => ledgerEntries(srv.ledger).find((e) => `d-${e.seq}` === id).payload;
  const a = byId(httpAnswer.decision_id), b = byId(mcpAnswer.decision_id);
  assert.deepEqual(b.request, a.request, 'the same request is recorded');
  const { time: _t1, ...answerA } = a.answer;
  const { time: _t2, ...answerB } = b.answer;
  assert.deepEqual(answerB, answerA, 'the same answer is recorded');
  assert.equal(b.charter_version, a.charter_version);
  assert.equal(a.answer.decision, 'allow');
  assert.equal(b.counters.run.actions, a.counters.run.actions + 1,
    'the same stop-rule counters: the MCP decision counts the HTTP one of its run');
});

test('every decision made over MCP is in the ledger, and it verifies', quick, async () => {
  assert.equal(made.length, 10);
  assert.equal(await srv.stop(), 0, `charter serve stopped cleanly:\n${srv.log()}`);
  checkLedger(srv.ledger, made, 2);
  srv.cleanup();
  srv = null;
});
