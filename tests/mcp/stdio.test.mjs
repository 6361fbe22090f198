// stdio.test.mjs - `charter mcp` over stdio, driven by the official
// TypeScript SDK clients: one of revision 2025-11-25 (initialize handshake)
// and one of revision 2026-07-28 (server/discover, per-request _meta). Each
// lists the tools, calls every tool and resource and checks the answers;
// then the ledger must hold exactly the decisions they made.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

import { StdioClientTransport as LegacyStdio } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StdioClientTransport as ModernStdio } from '@modelcontextprotocol/client/stdio';

import { AGENT, CHARTER, SHOP, checkLedger, converse, legacyClient, modernClient } from './peers.mjs';

const dir = mkdtempSync(join(tmpdir(), 'charter-mcp-stdio-'));
const ledger = join(dir, 'shop.ledger');
const params = {
  command: CHARTER,
  args: ['mcp', '--charter', SHOP, '--ledger', ledger, '--agent', AGENT, '--max-wait', '5'],
  stderr: 'ignore',
};
const made = [];
after(() => rmSync(dir, { recursive: true, force: true }));

test('a 2025-11-25 client (@modelcontextprotocol/sdk) over stdio', async () => {
  const client = legacyClient();
  await client.connect(new LegacyStdio(params));
  assert.equal(client.getServerVersion().name, 'charter');
  assert.ok(client.getServerCapabilities().tools);
  assert.ok(client.getServerCapabilities().resources);
  assert.match(client.getInstructions(), /check_action/);
  made.push(...await converse(client, 'run-legacy'));
  await client.close();
});

test('a 2026-07-28 client (@modelcontextprotocol/client) over stdio', async () => {
  const client = modernClient();
  await client.connect(new ModernStdio(params));
  assert.equal(client.getProtocolEra(), 'modern');
  assert.equal(client.getNegotiatedProtocolVersion(), '2026-07-28');
  made.push(...await converse(client, 'run-modern'));
  await client.close();
});

test('every decision made over MCP is in the ledger, and it verifies', () => {
  assert.equal(made.length, 8);
  checkLedger(ledger, made, 2);
});
