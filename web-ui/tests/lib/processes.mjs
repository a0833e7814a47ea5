// Child processes of the tests (bulkhead server, bulkhead demo): started with a known
// PID, stopped by that PID only (SIGTERM, then SIGKILL after a grace period).

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bulkheadBin, WEB_UI } from './env.mjs';

function watch(proc, onLine) {
  let buf = '';
  const log = [];
  const feed = (chunk) => {
    buf += chunk.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      log.push(line);
      onLine?.(line);
    }
  };
  proc.stdout?.on('data', feed);
  proc.stderr?.on('data', feed);
  return log;
}

export async function stop(proc, graceMs = 15000) {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  process.kill(proc.pid, 'SIGTERM');
  const timer = setTimeout(() => { if (proc.exitCode === null) process.kill(proc.pid, 'SIGKILL'); }, graceMs);
  await exited;
  clearTimeout(timer);
}

/** `bulkhead server` on a free loopback port with a fresh database, serving web-ui/dist (`release`: see bulkheadBin). */
export async function startServer({ release = false } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'bulkhead-ui-'));
  const proc = spawn(bulkheadBin({ release }), ['server', '--listen', '127.0.0.1:0', '--db', join(dir, 'db.sqlite'), '--ui', join(WEB_UI, 'dist')], { stdio: ['ignore', 'pipe', 'pipe'] });
  const url = await new Promise((resolve, reject) => {
    const log = watch(proc, (line) => {
      const m = line.match(/listening on (http:\/\/\S+)/);
      if (m) resolve(m[1]);
    });
    proc.once('exit', (c) => reject(new Error(`server exited (${c}):\n${log.join('\n')}`)));
  });
  const token = readFileSync(join(dir, 'admin.token'), 'utf8').trim();
  return {
    url, token, proc,
    async stop() { await stop(proc); rmSync(dir, { recursive: true, force: true }); },
  };
}

/** `bulkhead demo` on a free port with a lab name of its own; resolves once it prints the URL. */
export async function startDemo({ labName, stateDir, backend = 'nft', timeoutMs = 120000 }) {
  const proc = spawn(bulkheadBin(), ['demo', '--listen', '127.0.0.1:0', '--lab-name', labName, '--state-dir', stateDir, '--backend', backend, '--traffic-interval', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log;
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`demo printed no URL in ${timeoutMs} ms:\n${log.join('\n')}`)), timeoutMs);
    log = watch(proc, (line) => {
      if (process.env.BULKHEAD_TEST_VERBOSE) console.log(`[demo] ${line}`);
      if (/^http:\/\/\S+#token=\S+$/.test(line.trim())) { clearTimeout(timer); resolve(line.trim()); }
    });
    proc.once('exit', (c) => { clearTimeout(timer); reject(new Error(`demo exited (${c}):\n${log.join('\n')}`)); });
  });
  return { url, proc, log, stop: () => stop(proc, 30000) };
}

/** Runs the bulkhead binary to completion; resolves with stdout. */
export function bulkhead(args) {
  return new Promise((resolve, reject) => {
    const p = spawn(bulkheadBin(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (c) => { out += c; });
    p.stderr.on('data', (c) => { err += c; });
    p.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`bulkhead ${args.join(' ')} exited ${code}: ${err}`))));
  });
}
