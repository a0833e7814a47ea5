// Regression: `bulkhead demo` killed with SIGKILL (no chance to clean up) left its
// `bulkhead server` and `bulkhead agent` children running, holding the port, the
// database and the lab's firewall. The children now get a parent-death signal, and
// `bulkhead lab down` removes what the demo itself could not.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { unique } from './lib/env.mjs';
import { bulkhead, startDemo } from './lib/processes.mjs';
import { until } from './lib/map.mjs';

const LAB = `${process.env.BULKHEAD_LAB_PREFIX ?? 'uk'}${unique()}`;
const state = mkdtempSync(join(tmpdir(), 'bulkhead-ui-kill-'));
let demo;

after(async () => {
  // Safety net only: the test asserts the state it leaves.
  await demo?.stop().catch(() => undefined);
  await bulkhead(['lab', 'down', LAB]).catch(() => undefined);
  for (const p of ours()) { try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ } }
  rmSync(state, { recursive: true, force: true });
});

/** Live (not zombie) processes: pid, parent pid and argv. */
function processes() {
  const out = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      // The command name may hold spaces and parentheses: fields start after the last ')'.
      const [st, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (st === 'Z') continue;
      const argv = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').filter(Boolean);
      out.push({ pid: Number(d), ppid: Number(ppid), argv });
    } catch { /* it exited while we looked */ }
  }
  return out;
}

const alive = (pid) => processes().some((p) => p.pid === pid);
// Ours by construction: the demo's state directory and lab name are unique to this run.
const ours = () => processes().filter((p) => p.argv.some((a) => a.includes(state) || a === LAB));

test('privileged_demo_children_die_with_a_sigkilled_demo', async () => {
  demo = await startDemo({ labName: LAB, stateDir: state });
  const children = processes().filter((p) => p.ppid === demo.proc.pid && ['server', 'agent'].includes(p.argv[1]));
  assert.deepEqual(children.map((c) => c.argv[1]).sort(), ['agent', 'server'], JSON.stringify(processes().filter((p) => p.ppid === demo.proc.pid)));

  const exited = new Promise((r) => demo.proc.once('exit', r));
  process.kill(demo.proc.pid, 'SIGKILL');
  await exited;
  await until(async () => children.every((c) => !alive(c.pid)), 15000,
    `the server and agent (${children.map((c) => c.pid)}) to end with the demo`);

  // What only `lab down` removes (the lab's namespaces and its listener daemon) goes now.
  await bulkhead(['lab', 'down', LAB]);
  const netns = existsSync('/run/netns') ? readdirSync('/run/netns').filter((n) => n.startsWith(`${LAB}-`)) : [];
  assert.deepEqual(netns, [], 'no network namespace of the lab is left');
  await until(async () => ours().length === 0, 10000, `no process of the demo left: ${JSON.stringify(ours())}`);
});
