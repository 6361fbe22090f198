// serve.mjs - a real `charter serve` on 127.0.0.1 for the Streamable HTTP
// tests: an agent key made with `charter keys agent`, a fresh ledger, port 0,
// stopped with SIGTERM (which flushes the ledger). Bounded in time: a server
// that does not start, or does not stop within limit(10) of SIGTERM, is
// killed and the call fails.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { AGENT, CHARTER, SHOP, limit } from './peers.mjs';
import { spawnServe } from '../lib/procs.mjs';

export async function startServe(extraArgs = []) {
  const dir = mkdtempSync(join(tmpdir(), 'charter-mcp-http-'));
  const keys = join(dir, 'keys');
  const ledger = join(dir, 'shop.ledger');
  const out = execFileSync(CHARTER, ['keys', 'agent', '--dir', keys, '--agent', AGENT],
    { encoding: 'utf8', timeout: limit(10), killSignal: 'SIGKILL' });
  const token = out.match(/chk_[0-9a-f]+_[A-Za-z0-9_-]+/)?.[0];
  if (!token)
    throw new Error(`no token in 'charter keys agent' output: ${out}`);
  const { proc, base, log: printed } = await spawnServe(CHARTER, ['--charter', SHOP,
    '--ledger', ledger, '--keys', keys, '--listen', '127.0.0.1:0', '--max-wait', '5',
    ...extraArgs]);
  let note = '';
  return {
    base, url: `${base}/mcp`, token, ledger,
    log: () => (printed() + note).slice(-4000), // what charter serve printed, for a failure message
    async stop() { // the exit code; null when it had to be killed
      if (proc.exitCode !== null || proc.signalCode !== null)
        return proc.exitCode;
      const exited = new Promise((resolve) => proc.on('exit', resolve));
      proc.kill('SIGTERM');
      const timer = setTimeout(() => {
        note += `\n(charter serve did not stop within ${limit(10)} ms of SIGTERM: killed)`;
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
