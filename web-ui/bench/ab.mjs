// Paired A/B of two UI builds on the large map (2,000 workloads, 10,000 edges): two
// servers with the same data, one serving each build, page loads alternated A, B, A, B
// so both see the same machine load (on a shared 2-core machine a sequential comparison
// mostly measures the neighbours). Prints each first render and the ratio of medians.
//   npx vite build --outDir /tmp/ui-a --emptyOutDir   (at the old commit)
//   npx vite build --outDir /tmp/ui-b --emptyOutDir   (at the new one)
//   N=6 node bench/ab.mjs /tmp/ui-a /tmp/ui-b
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openBrowser, openPage } from '../tests/lib/browser.mjs';
import { bulkheadBin } from '../tests/lib/env.mjs';
import { stop } from '../tests/lib/processes.mjs';
import { load, synthetic } from './synthetic.mjs';
async function server(ui) {
  const dir = mkdtempSync(join(tmpdir(), 'bulkhead-ab-'));
  const proc = spawn(bulkheadBin({ release: true }), ['server', '--listen', '127.0.0.1:0', '--db', join(dir, 'db.sqlite'), '--ui', ui], { stdio: ['ignore', 'pipe', 'pipe'] });
  const url = await new Promise((res) => { let b = ''; proc.stderr.on('data', (c) => { b += c; const m = b.match(/listening on (http:\/\/\S+)/); if (m) res(m[1]); }); });
  return { url, token: readFileSync(join(dir, 'admin.token'), 'utf8').trim(), proc, dir };
}
const [a, b] = [process.argv[2], process.argv[3]];
if (!a || !b) throw new Error('usage: node bench/ab.mjs DIST_A DIST_B');
const data = synthetic({ workloads: 2000, edges: 10000, namespaces: 20 });
const sa = await server(a); const sb = await server(b);
await load(sa, data); await load(sb, data);
const browser = await openBrowser();
const res = { A: [], B: [] };
for (let i = 0; i < Number(process.env.N ?? 4); i++) {
  for (const [k, s] of [['A', sa], ['B', sb]]) {
    const { page } = await openPage(browser);
    await page.goto(`${s.url}/#token=${s.token}`);
    await page.waitForFunction(() => window.__bulkhead?.firstRenderMs, null, { timeout: 120000 });
    res[k].push(Math.round(await page.evaluate(() => window.__bulkhead.firstRenderMs)));
    await page.close();
  }
}
const med = (x) => [...x].sort((p, q) => p - q)[Math.floor(x.length / 2)];
console.log(JSON.stringify(res), 'median A', med(res.A), 'B', med(res.B), 'B/A', (med(res.B) / med(res.A)).toFixed(2));
await browser.close();
for (const s of [sa, sb]) {
  await stop(s.proc);
  rmSync(s.dir, { recursive: true, force: true });
}
