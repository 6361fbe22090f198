// serve.mjs - a real `charter serve` on 127.0.0.1 for the Streamable HTTP
// tests: an agent key made with `charter keys agent`, a fresh ledger, port 0,
// stopped with SIGTERM (which flushes the ledger). Bounded in time: a server
// that does not start, or does not stop within limit(10) of SIGTERM, is
// killed and the call fails.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { AGENT, CHARTER, SHOP, limit } from './peers.mjs';

export async function startServe(extraArgs = []) {
  const dir = mkdtempSync(join(tmpdir(), 'charter-mcp-http-'));
  const keys = join(dir, 'keys');
  const ledger = join(dir, 'shop.ledger');
  const out = execFileSync(CHARTER, ['keys', 'agent', '--dir', keys, '--agent', AGENT],
    { encoding: 'utf8', timeout: limit(10), killSignal: 'SIGKILL' });
  const token = out.match(/chk_[0-9a-f]+_[A-Za-z0-9_-]+/)?.[0];
  if (!token)
    throw new Error(`no token in 'charter keys agent' output: ${out}`);
  const proc = spawn(CHARTER, ['serve', '--charter', SHOP, '--ledger', ledger, '--keys', keys,
    '--listen', '127.0.0.1:0', '--max-wait', '5', ...extraArgs],
  { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const base = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`charter serve did not start within ${limit(10)} ms:\n${log}`));
    }, limit(10));
    const onData = (d) => {
      log += d.toString();
      const m = log.match(/listening on (http:\/\/[0-9.]+:\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`charter serve exited ${code}:\n${log}`));
    });
  });
  proc.removeAllListeners('exit');
  return {
    base, url: `${base}/mcp`, token, ledger,
    log: () => log.slice(-4000), // what charter serve printed, for a failure message
    async stop() { // the exit code; null when it had to be killed
      if (proc.exitCode !== null || proc.signalCode !== null)
        return proc.exitCode;
      const exited = new Promise((resolve) => proc.on('exit', resolve));
      proc.kill('SIGTERM');
      const timer = setTimeout(() => {
        log += `\n(charter serve did not stop within ${limit(10)} ms of SIGTERM: killed)`;
        proc.kill('SIGKILL');
      }, limit(10));
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
