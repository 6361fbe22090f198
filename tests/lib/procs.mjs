// procs.mjs - what the Node.js test folders (tests/mcp, tests/console)
// share about the processes they start: time limits stretched for the
// sanitizer builds, killing every child left running, the watchdog that
// ends a file shortly before its ctest TIMEOUT, and starting a real
// `charter serve` on 127.0.0.1 (port 0) and reading the address it prints.
// Plain Node.js, no npm package: each folder imports it by its path.
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

const SCALE = Number(process.env.CHARTER_TEST_TIMEOUT_SCALE || 1);
// A time limit of `seconds`, in ms, stretched by CHARTER_TEST_TIMEOUT_SCALE.
export const limit = (seconds) => seconds * 1000 * SCALE;

// SIGKILL to every process whose parent is this one (read from /proc).
export function killChildren() {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name))
      continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // "pid (command) state ppid ...": the command may hold spaces and ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid === process.pid) {
      try {
        process.kill(Number(name), 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
  }
}

// Under ctest (CHARTER_TEST_TIMEOUT set): shortly before the test's TIMEOUT,
// kill every child and fail the file with a message saying so, rather than
// be killed by ctest with the children left behind.
export function watchdog() {
  const total = Number(process.env.CHARTER_TEST_TIMEOUT || 0);
  if (total <= 0)
    return;
  const at = Math.max(total - 5, total * 0.8);
  setTimeout(() => {
    console.error(`FAIL: still running after ${at}s, shortly before the ctest TIMEOUT ` +
      '(CHARTER_TEST_TIMEOUT); killing the processes it started');
    killChildren();
    process.exit(1);
  }, at * 1000).unref();
}

// Starts `bin serve ...args` (args must include --listen 127.0.0.1:0) and
// resolves {proc, base, log} once it prints "listening on http://HOST:PORT";
// rejects (the process killed) when it exits first or does not start within
// limit(10). log() is everything it printed so far.
export async function spawnServe(bin, args) {
  const proc = spawn(bin, ['serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const onData = (d) => {
    text += d.toString();
  };
  proc.stdout.on('data', onData);
  proc.stderr.on('data', onData);
  const base = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`charter serve did not start within ${limit(10)} ms:\n${text}`));
    }, limit(10));
    const check = () => {
      const m = text.match(/listening on (http:\/\/[0-9.]+:\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    proc.stdout.on('data', check);
    proc.stderr.on('data', check);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`charter serve exited ${code}:\n${text}`));
    });
  });
  proc.removeAllListeners('exit');
  return { proc, base, log: () => text };
}
