// Browser benchmark of the map: first render and frame times while panning, for a large
// graph (2,000 workloads, 10,000 edges, loaded through the server's agent channel) and,
// as the baseline taken in the same run, a small one (20 workloads, 40 edges). Writes
// docs/bench/ui.md. Run: npm run build && npm run bench (needs a built bulkhead binary).

import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, loadavg } from 'node:os';
import { openBrowser, openPage } from '../tests/lib/browser.mjs';
import { REPO, bulkheadBin } from '../tests/lib/env.mjs';
import { startServer } from '../tests/lib/processes.mjs';
import { load, synthetic } from './synthetic.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const PAN_MS = 3000;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))];

/**
 * Pans with the real mouse (a drag from a point of the map no node covers) for PAN_MS and
 * one more second after letting go (the full redraw, boxes opening); answers the interval
 * of every animation frame meanwhile, and whether the view moved.
 */
async function pan(page) {
  const box = await page.evaluate(() => {
    const cy = window.__bulkhead.cy;
    const r = cy.container().getBoundingClientRect();
    // Dragging a workload or a compound box moves it; frames let events through and app
    // boxes pan.
    const taken = cy.nodes(':visible').filter((n) => !n.hasClass('frame') && !n.hasClass('box')).map((n) => n.renderedBoundingBox());
    const free = (p) => !taken.some((q) => p.x >= q.x1 && p.x <= q.x2 && p.y >= q.y1 && p.y <= q.y2);
    for (let i = 0; i < 40; i++) {
      const start = i === 0 ? { x: 8, y: r.height / 2 } : { x: 8 + ((i * 37) % 100) / 100 * r.width * 0.3, y: r.height * ((i * 53) % 100) / 100 };
      if (free(start)) return { x: r.left, y: r.top, w: r.width, h: r.height, sx: r.left + start.x, sy: r.top + start.y };
    }
    return null;
  });
  // Zoomed in on a small map, compound boxes may fill the view: nothing to drag on.
  if (!box) return null;
  await page.evaluate(() => {
    window.__frames = [];
    window.__panFrom = { ...window.__bulkhead.cy.pan() };
    let last = performance.now();
    const tick = (t) => { window.__frames.push(t - last); last = t; if (window.__framesOn) requestAnimationFrame(tick); };
    window.__framesOn = true;
    requestAnimationFrame(tick);
  });
  await page.mouse.move(box.sx, box.sy);
  await page.mouse.down();
  const started = Date.now();
  let i = 0;
  while (Date.now() - started < PAN_MS) {
    const dx = Math.sin(i / 15) * box.w * 0.3;
    const dy = Math.cos(i / 15) * box.h * 0.2;
    await page.mouse.move(box.sx + box.w * 0.3 + dx, box.sy + dy);
    i += 1;
  }
  await page.mouse.up();
  await new Promise((r) => setTimeout(r, 1000));
  const { frames, moved } = await page.evaluate(() => {
    window.__framesOn = false;
    const p = window.__bulkhead.cy.pan();
    return { frames: window.__frames.slice(1), moved: p.x !== window.__panFrom.x || p.y !== window.__panFrom.y };
  });
  if (!moved) throw new Error('the drag did not pan the map');
  return frames;
}

async function measure(browser, server) {
  const { page, errors } = await openPage(browser);
  await page.goto(`${server.url}/#token=${server.token}`);
  await page.waitForFunction(() => window.__bulkhead?.firstRenderMs, null, { timeout: 120000 });
  const first = await page.evaluate(() => ({ ms: window.__bulkhead.firstRenderMs, timings: window.__bulkhead.timings }));
  const frames = await pan(page);
  const counts = await page.evaluate(() => ({ nodes: window.__bulkhead.cy.nodes('.workload').length, edges: window.__bulkhead.cy.edges().length }));
  // Zoom in to reading distance on the first app box (or workload): the time until the
  // boxes in view are open (their workloads and connections drawn one by one) and drawn.
  const zoom = await page.evaluate(async () => {
    const cy = window.__bulkhead.cy;
    const target = cy.nodes('.box').first().nonempty() ? cy.nodes('.box').first() : cy.nodes('.workload').first();
    const before = cy.nodes('.workload').length;
    const t0 = performance.now();
    cy.zoom({ level: 1, position: target.position() });
    const deadline = t0 + 20000;
    while (cy.nodes('.workload').length === before && before < 100 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    return { ms: performance.now() - t0, nodes: cy.nodes('.workload').length, edges: cy.edges().length };
  });
  // Panning zoomed in: more is drawn, and boxes open as they come into view.
  const framesIn = await pan(page);
  await page.close();
  return { first, frames, framesIn, counts, zoom, errors };
}

async function scenario(browser, workloads, edges, release = true) {
  const server = await startServer({ release });
  try {
    await load(server, synthetic({ workloads, edges, namespaces: Math.max(2, Math.min(20, Math.round(workloads / 100))) }));
    const runs = [];
    for (let r = 0; r < RUNS; r++) runs.push(await measure(browser, server));
    const frames = runs.flatMap((x) => x.frames);
    const framesIn = runs.flatMap((x) => x.framesIn ?? []);
    return {
      workloads, edges, counts: runs[0].counts,
      first: runs.map((x) => x.first.ms), timings: runs.map((x) => x.first.timings), zoom: runs.map((x) => x.zoom),
      frameP50: pct(frames, 50), frameP95: pct(frames, 95), frameMax: Math.max(...frames), frames: frames.length,
      inP50: pct(framesIn, 50) ?? NaN, inP95: pct(framesIn, 95) ?? NaN, inMax: framesIn.length ? Math.max(...framesIn) : NaN, inFrames: framesIn.length,
      errors: runs.flatMap((x) => x.errors),
    };
  } finally {
    await server.stop();
  }
}

const loadBefore = loadavg();
const browser = await openBrowser();
const small = await scenario(browser, 20, 40);
const big = await scenario(browser, 2000, 10000);
// With a release server measured above, the large map once more on the debug one (what
// runs before this one used): how much of the first render is the server's build.
const server = bulkheadBin({ release: true });
const debugServer = bulkheadBin();
const bigDebug = debugServer !== server ? await scenario(browser, 2000, 10000, false) : null;
await browser.close();
const loadAfter = loadavg();

const f = (x) => x.toFixed(0);
const f1 = (x) => x.toFixed(1);
const row = (name, s) => `| ${name} | ${s.counts.nodes} / ${s.counts.edges} | ${s.first.map(f).join(', ')} | **${f(median(s.first))}** | ${f1(s.frameP50)} | ${f1(s.frameP95)} | ${f1(s.frameMax)} | ${s.frames} |`;
const t = big.timings[0] ?? {};
const parts = (s) => ['start', 'fetch', 'layout', 'elements', 'draw'].map((k) => `${k} ${f(median(s.timings.map((x) => x[k] ?? 0)))}`).join(', ');
const z = big.zoom.map((x) => x.ms);
const met = median(big.first) <= 2000;
const report = `# Web UI benchmark: the map at scale

\`npm run bench\` in \`web-ui/\` (bench/ui-bench.mjs): a \`bulkhead server\` per scenario (${server.includes('/release/') ? 'release build' : 'debug build'}:
\`<target>/${server.split('/').slice(-2).join('/')}\`), fed through the agent channel (\`PUT /agents/bench\`, \`POST /agents/bench/flows\`),
the built UI opened in headless Chromium (\`/usr/bin/chromium\`, 1500×900, playwright-core), ${RUNS} page
loads per scenario. *First render*: from navigation start to the second animation frame after
the map's elements exist (page and script, sign-in, \`GET /graph\`, layout, elements, styling
and drawing; the inventory, \`GET /workloads\`, is asked for after). *Panning*: ${PAN_MS / 1000} s of mouse
drags on the map per load and 1 s after letting go; the interval of every animation frame meanwhile. *Zoom in*: zoom
to 1 on the first app box; time until the boxes in view are open and drawn.

Machine: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}); load average before the run
${loadBefore.map((x) => x.toFixed(1)).join(' / ')}, after ${loadAfter.map((x) => x.toFixed(1)).join(' / ')} (other engineers compile on the same
machine: absolute times move with it, the ratio to the baseline of the same run less).

| scenario | workloads / edges drawn at first render | first render per load (ms) | median (ms) | frame p50 (ms) | frame p95 (ms) | frame max (ms) | frames |
|---|---|---|---|---|---|---|---|
${row('baseline: 20 workloads, 40 flows', small)}
${row('2,000 workloads, 10,000 flows', big)}
${bigDebug ? row('the same, debug-build server', bigDebug) + '\n' : ''}
- The large map opens with its app boxes closed: ${big.counts.nodes} workload nodes and ${big.counts.edges} bundles drawn
  at first render (see below); the baseline draws every workload and connection.
- First render, large / baseline: **${(median(big.first) / median(small.first)).toFixed(2)}×**; goal ≤ 2,000 ms: **${met ? 'met' : 'not met'}** (median ${f(median(big.first))} ms, loads ${big.first.map(f).join(', ')}${server.includes('/release/') ? ', release-build server' : ''})${bigDebug ? `; with the debug-build server ${median(bigDebug.first) <= 2000 ? 'met' : 'not met'} (median ${f(median(bigDebug.first))} ms, ${(median(bigDebug.first) / median(small.first)).toFixed(2)}× the baseline)` : ''}.
- Where it went (median per part, ms): large: ${parts(big)}; baseline: ${parts(small)}${bigDebug ? `; large on the debug server: ${parts(bigDebug)}` : ''}.
  *start*: navigation to asking for the graph (page, script, sign-in); *draw*: the two frames
  after the elements exist (cytoscape styles and paints there).
- Panning frame p50, large / baseline: **${(big.frameP50 / small.frameP50).toFixed(2)}×**; p95 ${(big.frameP95 / small.frameP95).toFixed(2)}×.
- Panning zoomed in (zoom 1, after the zoom below; boxes open as they come into view once a
  drag ends; a load where no free point to drag from was in view is left out): frame p50 / p95 / max, baseline ${f1(small.inP50)} / ${f1(small.inP95)} / ${f1(small.inMax)} ms (${small.inFrames} frames),
  large ${f1(big.inP50)} / ${f1(big.inP95)} / ${f1(big.inMax)} ms (${big.inFrames} frames).
- Zoom in on the large map: ${z.map(f).join(', ')} ms until open and drawn (${big.zoom[0]?.nodes ?? 0} workloads, ${big.zoom[0]?.edges ?? 0} edges and bundles then).
- Console errors during the runs: ${small.errors.length + big.errors.length + (bigDebug?.errors.length ?? 0)}.

What the large map draws first: its namespace frames and app boxes, placed by a grouped
grid (one pass over the data: room for each replica on a grid inside its app's box, boxes
packed in rows inside their namespace frame, frames packed to the screen's shape), the app
boxes closed (labelled with their replica count; their workloads are added, where the grid
put them, when the box opens), and the 10,000 connections in ${big.counts.edges} bundles: across namespaces
one bundle per namespace pair, inside a namespace one per app pair, inside an app a loop
on its box. A bundle takes the strictest verdict of its members, so one denied connection
among hundreds turns it red (denied and would-deny are drawn above allowed). Zooming in to
reading distance opens the boxes in view (their workloads and connections drawn one by one,
labels legible), clicking a box opens it, clicking a bundle lists its flows with the rule
that decided each and a button to draw them one by one, and the header's *group
connections* turns grouping off (everything drawn, as before). Search marks the closed box
holding a match and opens it on Enter; filters leave hidden connections out of the bundles.
Small maps (≤ 400 workloads, ≤ 1,500 edges) are drawn as before: fCoSE, compound boxes,
every connection (grouping is a choice there).

Measured on the way (2026-11-24; \`bench/profile.mjs\` profiles one load, \`bench/ab.mjs\` compares
two builds with alternated loads):
- Before this work (fCoSE over the app groups, every workload and edge drawn): 5,756 ms
  median at load average ~8 with a debug server, 6.3× the baseline (its profile: styling
  12,000 elements on the first frame ~1 s, drawing 10,000 edges ~0.6 s, the group layout
  ~0.7 s, garbage collection ~0.4 s, \`GET /graph\` from the debug server ~0.5–1.5 s).
- The build before this work against this one, both on the release server, paired and
  alternated loads (4 each, load average 9.5–11.5): medians 5,379 → 1,501 ms (**0.28×**).
- Grouped grid instead of fCoSE: layout 787 → ~50 ms.
- Bundles (directed) with every workload drawn: 2,387 edges; both directions in one bundle
  (a large map draws no arrows): 1,550; the first frame's styling and drawing went from
  ~1.8 s to ~1.2 s (single profiled loads, load average ~10).
- Closed app boxes (no workload nodes until opened): 0.72× the first render of the same
  build with every workload drawn (paired loads, 4 each, load average ~95); styling fewer
  properties on 2,000 workload nodes instead (no label, no border): 1.04× (no gain; not kept).
- fCoSE and the learn dialog (with its YAML parser) load on demand: the first script
  698 → 474 kB.
- Earlier: cytoscape's WebGL renderer (\`webgl: true\`) was 1.76× slower in headless Chromium
  (software GL); \`hideEdgesOnViewport\` and \`pixelRatio: 1\` do not change the first render
  (panning uses \`textureOnViewport\`).
`;
mkdirSync(join(REPO, 'docs', 'bench'), { recursive: true });
writeFileSync(join(REPO, 'docs', 'bench', 'ui.md'), report);
console.log(report);
