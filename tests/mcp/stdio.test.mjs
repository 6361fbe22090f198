// stdio.test.mjs - `charter mcp` over stdio, driven by the official
// TypeScript SDK clients: one of revision 2025-11-25 (initialize handshake)
// and one of revision 2026-07-28 (server/discover, per-request _meta). Each
// lists the tools, calls every tool and resource and checks the answers;
// then the ledger must hold exactly the decisions they made.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, test } from 'node:test';

import { StdioClientTransport as LegacyStdio } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StdioClientTransport as ModernStdio } from '@modelcontextprotocol/client/stdio';

import { AGENT, CHARTER, SHOP, checkLedger, converse, killChildren, ledgerEntries, legacyClient,
  limit, modernClient } from './peers.mjs';

const dir = mkdtempSync(join(tmpdir(), 'charter-mcp-stdio-'));
const ledger = join(dir, 'shop.ledger');
const params = {
  command: CHARTER,
  args: ['mcp', '--charter', SHOP, '--ledger', ledger, '--agent', AGENT, '--max-wait', '5'],
  stderr: 'ignore',
};
const made = [];
// Each test's `charter mcp` ends with it, even when the test timed out.
afterEach(killChildren);
after(() => rmSync(dir, { recursive: true, force: true }));

// A conversation takes about a second; 8 s (scaled) means charter hangs.
const quick = { timeout: limit(8) };

test('a 2025-11-25 client (@modelcontextprotocol/sdk) over stdio', quick, async () => {
  const client = legacyClient();
  await client.connect(new LegacyStdio(params));
  assert.equal(client.getServerVersion().name, 'charter');
  assert.ok(client.getServerCapabilities().tools);
  assert.ok(client.getServerCapabilities().resources);
  assert.match(client.getInstructions(), /check_action/);
  made.push(...await converse(client, 'run-legacy'));
  await client.close();
});

test('a 2026-07-28 client (@modelcontextprotocol/client) over stdio', quick, async () => {
  const client = modernClient();
  await client.connect(new ModernStdio(params));
  assert.equal(client.getProtocolEra(), 'modern');
  assert.equal(client.getNegotiatedProtocolVersion(), '2026-07-28');
  made.push(...await converse(client, 'run-modern'));
  await client.close();
});

test('raw stdio: malformed and unknown messages get JSON-RPC errors, in order, and write nothing', quick, async () => {
  const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28',
    'io.modelcontextprotocol/clientCapabilities': {} };
  const lines = [
    '{"jsonrpc":"2.0","id":1,"method":"tools/list"',                     // cut short
    '[{"jsonrpc":"2.0","id":2,"method":"tools/list"}]',                  // a batch
    JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/erase', params: { _meta: meta } }),
    JSON.stringify({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 3 } }),
    JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'tools/call', params: { _meta: meta,
      name: 'check_action', arguments: { workflow: 'refunds' } } }),     // no action
    JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'x', params: { pad: 'a'.repeat(1200 * 1024) } }),
    JSON.stringify({ jsonrpc: '2.0', id: 6, method: 'server/discover', params: { _meta: meta } }),
  ];
  const child = spawn(CHARTER, params.args, { stdio: ['pipe', 'pipe', 'ignore'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  child.stdin.end(lines.join('\n') + '\n');
  assert.equal(await exited, 0, 'exits 0 at end of input');
  const replies = out.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(replies.map((r) => r.error?.code ?? 'ok'),
    [-32700, -32600, -32601, -32602, -32600, 'ok'], 'one reply per request, none for the notification');
  assert.equal(replies[2].id, 3);
  assert.equal(replies[5].result.supportedVersions[0], '2026-07-28');
  assert.equal(ledgerEntries(ledger).filter((e) => e.kind === 'decision').length, made.length);
});

test('every decision made over MCP is in the ledger, and it verifies', quick, () => {
  assert.equal(made.length, 8);
  checkLedger(ledger, made, 2);
});
