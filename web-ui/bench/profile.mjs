// Where the large map's first render spends its time: one page load of the 2,000-workload
// map under Chromium's sampling profiler (CDP), self time summed per function, biggest
// first. Run after a build: node bench/profile.mjs [workloads] [edges]
// (SHOT=file.png also saves a screenshot; `npx vite build --minify false` for readable names).
import { openBrowser, openPage } from '../tests/lib/browser.mjs';
import { startServer } from '../tests/lib/processes.mjs';
import { load, synthetic } from './synthetic.mjs';

const workloads = Number(process.argv[2] ?? 2000);
const edges = Number(process.argv[3] ?? 10000);
const server = await startServer({ release: true });
const browser = await openBrowser();
try {
  await load(server, synthetic({ workloads, edges, namespaces: Math.max(2, Math.min(20, Math.round(workloads / 100))) }));
  const { page, errors } = await openPage(browser);
  const warnings = new Map();
  page.on('console', (m) => { if (m.type() === 'warning') warnings.set(m.text(), (warnings.get(m.text()) ?? 0) + 1); });
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
  await cdp.send('Profiler.start');
  await page.goto(`${server.url}/#token=${server.token}`);
  await page.waitForFunction(() => window.__bulkhead?.firstRenderMs, null, { timeout: 120000 });
  const { profile } = await cdp.send('Profiler.stop');
  if (process.env.SHOT) await page.screenshot({ path: process.env.SHOT });
  const first = await page.evaluate(() => ({ ms: window.__bulkhead.firstRenderMs, timings: window.__bulkhead.timings }));
  // Self time per node from the samples, summed per function (name + place).
  const dt = new Map();
  profile.samples.forEach((id, i) => dt.set(id, (dt.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? 0)));
  const self = new Map();
  for (const n of profile.nodes) {
    const f = n.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').pop()}:${f.lineNumber}:${f.columnNumber}`;
    self.set(key, (self.get(key) ?? 0) + (dt.get(n.id) ?? 0) / 1000);
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  console.log(`first render ${first.ms.toFixed(0)} ms; timings ${JSON.stringify(first.timings)}; profiled ${total.toFixed(0)} ms; errors ${errors.length}`);
  for (const [w, n] of warnings) console.log(`warning ×${n}: ${w.slice(0, 200)}`);
  for (const [k, v] of [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.TOP ?? 40))) console.log(`${v.toFixed(1).padStart(8)} ms  ${k}`);
  // INCL=a,b: time spent inside each named function, callees included (outermost call).
  if (process.env.INCL) {
    const kids = new Map(profile.nodes.map((n) => [n.id, n.children ?? []]));
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const total = (id) => (dt.get(id) ?? 0) / 1000 + kids.get(id).reduce((a, c) => a + total(c), 0);
    for (const name of process.env.INCL.split(',')) {
      let sum = 0;
      const parts = new Map();
      const walk = (id, inside) => {
        const n = byId.get(id);
        const fn = n.callFrame.functionName;
        const hit = !inside && (fn === name || fn.endsWith(`.${name}`));
        if (hit) {
          sum += total(id);
          for (const c of kids.get(id)) {
            const k = byId.get(c).callFrame.functionName || '(anon)';
            parts.set(k, (parts.get(k) ?? 0) + total(c));
          }
        }
        for (const c of kids.get(id)) walk(c, inside || hit);
      };
      walk(profile.nodes[0].id, false);
      console.log(`${sum.toFixed(1).padStart(8)} ms  inside ${name}: ${[...parts.entries()].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')}`);
    }
  }
  // CALLERS=name: whose calls the self time of that function came from (4 frames up).
  if (process.env.CALLERS) {
    const parent = new Map();
    for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n);
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const paths = new Map();
    for (const n of profile.nodes) {
      if (n.callFrame.functionName !== process.env.CALLERS) continue;
      const names = [];
      for (let p = parent.get(n.id); p && names.length < 4; p = parent.get(p.id)) names.push(p.callFrame.functionName || '(anon)');
      const k = names.join(' < ');
      paths.set(k, (paths.get(k) ?? 0) + (dt.get(n.id) ?? 0) / 1000);
    }
    void byId;
    for (const [k, v] of [...paths.entries()].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`${v.toFixed(1).padStart(8)} ms  ${process.env.CALLERS} < ${k}`);
  }
} finally {
  await browser.close();
  await server.stop();
}
