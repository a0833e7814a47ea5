// The web UI against `bulkhead demo`: real workloads in a lab, real kernel flows from the
// agent, real enforcement. Driven in Debian's headless Chromium through playwright-core.
//
// One demo serves every step (starting one costs a lab, a server and an agent); the steps
// run in order and each leaves a screenshot in web-ui/test-results/.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { openBrowser, openPage } from './lib/browser.mjs';
import { artifacts, unique } from './lib/env.mjs';
import { bulkhead, startDemo } from './lib/processes.mjs';
import { clickEdge, clickFree, clickNode, edgeVerdicts, until } from './lib/map.mjs';

// BULKHEAD_LAB_PREFIX (at most 4 characters): lab names of one's own on a shared machine.
const LAB = `${process.env.BULKHEAD_LAB_PREFIX ?? 'ui'}${unique()}`;
const state = mkdtempSync(join(tmpdir(), 'bulkhead-ui-demo-'));
let demo;
let browser;
let page;
let errors;
let base;
let token;

const shot = (name) => page.screenshot({ path: join(artifacts(), `${name}.png`) });

before(async () => {
  demo = await startDemo({ labName: LAB, stateDir: state });
  const u = new URL(demo.url);
  base = u.origin;
  token = new URLSearchParams(u.hash.slice(1)).get('token');
  browser = await openBrowser();
  ({ page, errors } = await openPage(browser));
});

after(async () => {
  await browser?.close();
  await demo?.stop();
  // A safety net if the demo failed to clean up (the last test checks that it did).
  await bulkhead(['lab', 'down', LAB]).catch(() => undefined);
  rmSync(state, { recursive: true, force: true });
});

async function api(method, path, body, t = token) {
  const r = await fetch(base + path, {
    method, headers: { Authorization: `Bearer ${t}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: r.status, body: await r.json().catch(() => null) };
}

async function probe(from, to, port) {
  const out = await bulkhead(['lab', 'probe', join(state, 'lab.yaml'), '--from', from, '--to', to, '--port', String(port), '-o', 'json']);
  const rows = JSON.parse(out);
  assert.equal(rows.length, 1, out);
  return rows[0].allowed;
}

test('the demo opens signed in and its workloads and edges appear', async () => {
  // The agent's first inventory report may land after the demo prints its URL; opened
  // before it, the page would (rightly) reload on the `workloads` event, and the check
  // that edges come live without a reload below would fail for the wrong reason.
  await until(async () => (await api('GET', '/api/v1/workloads')).body?.length === 6, 30000, 'the agent\'s inventory');
  await page.goto(demo.url);
  await page.waitForFunction(() => window.__bulkhead?.ready === true, null, { timeout: 30000 });
  assert.ok(!page.url().includes('token='), `the token must leave the address bar: ${page.url()}`);
  assert.match(await page.textContent('#role'), /admin/);
  const nodes = await page.evaluate(() => window.__bulkhead.cy.nodes('.workload').map((n) => n.id()).sort());
  assert.deepEqual(nodes, ['guest/intruder', 'jobs/report', 'shop/api', 'shop/cache', 'shop/db', 'shop/frontend']);
  // Edges arrive live (no reload) as the agent reports the demo's traffic.
  const want = ['shop/frontend|shop/api|TCP|8080', 'shop/api|shop/db|TCP|5432', 'shop/api|shop/cache|TCP|6379'];
  await until(async () => {
    const v = await edgeVerdicts(page);
    return want.every((k) => v[k] === 'allowed') && Object.entries(v).some(([k, x]) => k.startsWith('guest/intruder|') && x === 'denied');
  }, 45000, 'allowed shop edges and denied intruder edges');
  assert.equal(await page.evaluate(() => window.__bulkhead.loads), 1,
    `edges came over the live stream, without a reload; reloads: ${await page.evaluate(() => window.__bulkhead.reloadReasons.join(', '))}`);
  await shot('01-map');
});

test('grouped connections: bundles between groups keep denied traffic red, open to their flows and expand', async () => {
  // A map this small draws every connection; large ones group by default (bench/).
  assert.equal(await page.isChecked('#group-edges'), false);
  const before = Object.keys(await edgeVerdicts(page)).length;
  await page.check('#group-edges');
  try {
    const bundles = () => page.evaluate(() => Object.fromEntries(window.__bulkhead.cy.edges('.bundle').map((e) => [e.id(), e.data('verdict')])));
    await until(async () => Object.keys(await bundles()).length > 0, 10000, 'bundles');
    const b = await bundles();
    // Across namespaces, namespace to namespace: the intruder's denied sweep makes it red.
    assert.equal(b['b:ns:guest<>ns:shop'], 'denied', JSON.stringify(b));
    assert.equal(b['b:app:shop/api<>app:shop/frontend'], 'allowed', JSON.stringify(b));
    const loose = await page.evaluate(() => window.__bulkhead.cy.edges().filter((e) => !e.hasClass('bundle')).map((e) => e.id()));
    assert.deepEqual(loose, [], 'every connection between different apps is in a bundle');
    await shot('01b-grouped');
    // Clicking a bundle shows its flows, each with its verdict and deciding rule.
    // A bundle between two boxes can be short, its middle under a box's label: click the
    // first point along it that no node (label included) covers.
    // Grouping moves nodes into their boxes over a few frames: ask until the layout
    // leaves such a point (right after the switch, every candidate can be covered).
    const freePoint = () => page.evaluate(() => {
      const cy = window.__bulkhead.cy;
      const e = cy.getElementById('b:ns:guest<>ns:shop');
      const a = e.renderedSourceEndpoint(), b = e.renderedTargetEndpoint();
      const r = cy.container().getBoundingClientRect();
      const boxes = cy.nodes().map((n) => n.renderedBoundingBox({ includeLabels: true }));
      for (const t of [0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.8]) {
        const x = a.x + (b.x - a.x) * t, y = a.y + (b.y - a.y) * t;
        if (!boxes.some((q) => x >= q.x1 - 2 && x <= q.x2 + 2 && y >= q.y1 - 2 && y <= q.y2 + 2)) return { x: x + r.left, y: y + r.top };
      }
      return null;
    });
    let pos = null;
    await until(async () => (pos = await freePoint()) !== null, 10000, 'a point of the bundle that no node covers');
    assert.ok(pos, 'a point of the bundle that no node covers');
    await page.mouse.click(pos.x, pos.y);
    await page.waitForFunction(() => document.querySelector('#panel-title')?.textContent === 'guest ↔ shop', null, { timeout: 10000 });
    assert.equal(await page.textContent('#edge-verdict'), 'denied');
    const rows = await page.$$eval('#panel tr.flow', (trs) => trs.map((t) => [...t.children].map((c) => c.textContent)));
    assert.ok(rows.some((r) => r[0] === 'guest/intruder' && r[1].startsWith('shop/') && r[3] === 'denied' && r.length === 7), JSON.stringify(rows));
    // "Show these connections" draws them as themselves.
    await page.click('#btn-expand-bundle');
    await until(async () => {
      const v = await edgeVerdicts(page);
      return !('ns:guest<>ns:shop' in v) && Object.entries(v).some(([k, x]) => k.startsWith('guest/intruder|shop/') && x === 'denied');
    }, 10000, 'the intruder\'s connections drawn one by one');
  } finally {
    // The steps after this one click single connections.
    await page.uncheck('#group-edges');
  }
  await until(async () => (await page.evaluate(() => window.__bulkhead.cy.edges('.bundle').length)) === 0, 10000, 'bundles gone');
  assert.ok(Object.keys(await edgeVerdicts(page)).length >= before);
});

test('drawn as a large map (?map=large): closed app boxes and bundles; a click, search or zoom opens a box', async () => {
  const { page: p3, errors: e3 } = await openPage(browser);
  try {
    await p3.goto(`${base}/?map=large#token=${token}`);
    await p3.waitForFunction(() => window.__bulkhead?.ready === true, null, { timeout: 30000 });
    const state = () => p3.evaluate(() => {
      const cy = window.__bulkhead.cy;
      return {
        boxes: cy.nodes('.box').map((n) => n.id()).sort(),
        workloads: cy.nodes('.workload').map((n) => n.id()).sort(),
        bundles: Object.fromEntries(cy.edges('.bundle').map((e) => [e.id(), e.data('verdict')])),
      };
    });
    // (Each zoom in a block: cy.zoom returns cytoscape itself, which playwright would
    // try to serialise.) Zoomed out, every box is closed: no workload drawn, every
    // connection in a bundle.
    await p3.evaluate(() => { window.__bulkhead.cy.zoom(0.3); });
    await until(async () => (await state()).workloads.length === 0, 10000, 'every box closed when zoomed out');
    let s = await state();
    assert.deepEqual(s.boxes, ['app:guest/intruder', 'app:jobs/report', 'app:shop/api', 'app:shop/cache', 'app:shop/db', 'app:shop/frontend']);
    assert.equal(s.bundles['b:ns:guest<>ns:shop'], 'denied', JSON.stringify(s.bundles));
    assert.equal(s.bundles['b:app:shop/api<>app:shop/db'], 'allowed', JSON.stringify(s.bundles));
    // A click on a box opens it: its workload is drawn, its connections go to the far groups.
    await p3.evaluate(() => { window.__bulkhead.cy.zoom({ level: 0.7, position: window.__bulkhead.cy.getElementById('app:shop/db').position() }); });
    await clickFree(p3, 'app:shop/db');
    await until(async () => (await state()).workloads.includes('shop/db'), 10000, 'shop/db drawn once its box opened');
    s = await state();
    assert.deepEqual(s.workloads, ['shop/db']);
    assert.equal(s.bundles['b:ns:guest<>shop/db'], 'denied', JSON.stringify(s.bundles));
    assert.equal(s.bundles['b:app:shop/api<>shop/db'], 'allowed', JSON.stringify(s.bundles));
    // Enter in the search opens the box of the first match and shows its panel.
    await p3.fill('#search', 'frontend');
    await p3.press('#search', 'Enter');
    await p3.waitForFunction(() => document.querySelector('#panel-title')?.textContent === 'shop/frontend', null, { timeout: 10000 });
    assert.ok((await state()).workloads.includes('shop/frontend'));
    await p3.fill('#search', '');
    // Zooming in to reading distance opens the boxes in view.
    await p3.evaluate(() => { window.__bulkhead.cy.zoom({ level: 1.5, position: window.__bulkhead.cy.getElementById('app:shop/cache').position() }); });
    await until(async () => (await state()).workloads.includes('shop/cache'), 10000, 'shop/cache drawn when zoomed in on');
    await p3.screenshot({ path: join(artifacts(), '01c-large.png') });
    assert.deepEqual(e3, []);
  } finally {
    await p3.close();
  }
});

test('a read-only token sees everything and can change nothing', async () => {
  const created = await api('POST', '/api/v1/tokens', { name: 'viewer', role: 'read-only' });
  assert.equal(created.status, 201);
  const ro = created.body.token;
  const { page: p2, errors: e2 } = await openPage(browser);
  await p2.goto(`${base}/#token=${ro}`);
  await p2.waitForFunction(() => window.__bulkhead?.ready === true, null, { timeout: 30000 });
  assert.match(await p2.textContent('#role'), /read-only/);
  await clickNode(p2, 'shop/db');
  await p2.waitForSelector('#mode-select');
  assert.equal(await p2.isDisabled('#mode-select'), true);
  assert.equal(await p2.isDisabled('#btn-current-peers'), true);
  assert.equal(await p2.isDisabled('#btn-rule-form'), true);
  await p2.screenshot({ path: join(artifacts(), '02-read-only.png') });
  // The server refuses what the UI hides.
  const refused = await api('PUT', '/api/v1/workloads/shop/db/mode', { mode: 'learn' }, ro);
  assert.equal(refused.status, 403);
  assert.deepEqual(e2, []);
  await p2.close();
});

test('blocking an edge in the UI makes the real connection fail and the edge turn denied', async () => {
  assert.equal(await probe('shop/frontend', 'shop/api', 8080), true, 'allowed before');
  await clickEdge(page, 'e:shop/frontend|shop/api|TCP|8080');
  await page.waitForSelector('#btn-block-edge:not([disabled])');
  await page.click('#btn-block-edge');
  // The preview (replay of recorded flows) names the flow the change would deny.
  await page.waitForSelector('#editor-preview tr.would-deny-row', { timeout: 20000 });
  const preview = await page.textContent('#editor-preview');
  assert.match(preview, /shop\/frontend\s*shop\/api\s*8080/);
  assert.doesNotMatch(preview, /shop\/api\s*shop\/db/, 'only the blocked flow is newly denied');
  await shot('03-block-preview');
  await page.click('#editor-save');
  await until(async () => !(await probe('shop/frontend', 'shop/api', 8080)), 20000, 'the lab connection to fail');
  assert.equal(await probe('shop/api', 'shop/db', 5432), true, 'other flows still pass');
  await until(async () => (await edgeVerdicts(page))['shop/frontend|shop/api|TCP|8080'] === 'denied', 30000, 'the edge to turn denied');
  await page.waitForFunction(() => document.querySelector('#edge-verdict')?.textContent === 'denied', null, { timeout: 10000 });
  await shot('04-edge-denied');
});

test('switching a workload to monitor shows would-deny edges', async () => {
  await clickNode(page, 'shop/db');
  await page.waitForSelector('#mode-select:not([disabled])');
  await page.selectOption('#mode-select', 'monitor');
  await until(async () => {
    const v = await edgeVerdicts(page);
    return Object.entries(v).some(([k, x]) => k.startsWith('guest/intruder|shop/db|') && x === 'would-deny');
  }, 30000, 'the intruder edge to shop/db to turn would-deny');
  const mode = await page.evaluate(() => window.__bulkhead.cy.getElementById('shop/db').data('mode'));
  assert.equal(mode, 'monitor');
  await shot('05-monitor');
});

async function allowedSinceLearning(since) {
  const r = await api('GET', `/api/v1/flows?verdict=allowed&since=${encodeURIComponent(since)}&limit=10000`);
  return new Set(r.body.records.map((x) => `${x.source}|${x.destination}|${x.port}`));
}

test('a baseline learned in the UI keeps the learned traffic passing and denies the intruder', async () => {
  // The shop starts without any policy: whatever protects it at the end is the baseline.
  const stored = await api('GET', '/api/v1/policies');
  assert.equal((await api('DELETE', '/api/v1/policies', { names: stored.body.map((p) => p.name) })).status, 200);
  await page.click('#btn-learn');
  await page.selectOption('#learn-ns', 'shop');
  assert.equal(await page.locator('#learn-workloads input:checked').count(), 4);
  await page.click('#learn-start');
  await until(async () => (await api('GET', '/api/v1/workloads')).body.filter((w) => w.id.startsWith('shop/')).every((w) => w.mode === 'learn'),
    10000, 'the shop workloads to be in learn mode');
  // The window the UI will learn from ("since learning started"): wait for flows in it.
  const since = await page.evaluate(() => sessionStorage.getItem('bulkhead.learn.shop'));
  assert.ok(since, 'the UI remembers when learning started');
  // Learn mode allows and records: the shop's calls, and the intruder's sweep too.
  const learned = ['shop/frontend|shop/api|8080', 'shop/api|shop/db|5432', 'shop/api|shop/cache|6379', 'jobs/report|shop/api|8080'];
  await until(async () => {
    const seen = await allowedSinceLearning(since);
    return learned.every((k) => seen.has(k)) && seen.has('guest/intruder|shop/db|5432');
  }, 45000, 'learn-mode flows of the shop and of the intruder');
  await page.click('#learn-generate');
  await page.waitForSelector('#learn-review .learn-policy', { timeout: 20000 });
  const policies = await page.$$eval('.learn-policy', (els) => els.map((e) => e.dataset.name).sort());
  assert.ok(policies.length >= 4, `a policy per shop identity: ${policies}`);
  // Every rule carries its evidence, and every policy is new against what is stored (nothing).
  const evidence = await page.$$eval('.learn-rule td.evidence', (tds) => tds.map((t) => Number(t.textContent)));
  assert.ok(evidence.length > 0 && evidence.every((n) => n > 0), `flow counts: ${evidence}`);
  assert.deepEqual([...new Set(await page.$$eval('.learn-policy .badge', (b) => b.map((x) => x.textContent)))], ['new']);
  // The reviewer leaves out what the intruder did while the shop was learning.
  const fromGuest = page.locator('.learn-rule input[data-peer^="guest "]');
  const n = await fromGuest.count();
  assert.ok(n > 0, 'the intruder\'s sweep was learned and is shown for review');
  for (let i = 0; i < n; i++) await fromGuest.nth(i).uncheck();
  await shot('06-baseline-review');
  await page.click('#learn-preview');
  await page.waitForSelector('#learn-preview-result p', { timeout: 20000 });
  // Rows the baseline skipped (reply-direction records on ephemeral ports, which appear
  // when conntrack entries are flushed mid-connection) are marked, with the reason.
  const denied = await page.$$eval('#learn-preview-result tr.would-deny-row:not(.skipped)', (rows) => rows.map((r) => `${r.dataset.source}|${r.dataset.destination}`));
  assert.ok(denied.length > 0, 'the left-out intruder flows show in the preview');
  assert.deepEqual(denied.filter((k) => !k.startsWith('guest/intruder|')), [], 'no learned flow would be denied');
  assert.ok(denied.includes('guest/intruder|shop/db'));
  await page.locator('#learn-preview-result').scrollIntoViewIfNeeded();
  await shot('07-baseline-preview');
  await page.click('#learn-apply:not([disabled])');
  await until(async () => (await api('GET', '/api/v1/workloads')).body.filter((w) => w.id.startsWith('shop/')).every((w) => w.mode === 'enforce'),
    10000, 'the shop workloads to enforce');
  const names = (await api('GET', '/api/v1/policies')).body.map((p) => p.name);
  assert.ok(policies.every((p) => names.includes(p)), `stored: ${names}`);
  await until(async () => !(await probe('guest/intruder', 'shop/db', 5432)), 20000, 'the intruder to be denied');
  assert.equal(await probe('shop/frontend', 'shop/api', 8080), true, 'learned: frontend → api');
  assert.equal(await probe('shop/api', 'shop/db', 5432), true, 'learned: api → db');
  assert.equal(await probe('jobs/report', 'shop/api', 8080), true, 'learned: report → api');
  assert.equal(await probe('guest/intruder', 'shop/api', 8080), false, 'not learned: intruder → api');
  await shot('08-baseline-enforced');
});

test('no console errors, and the demo removes everything on SIGTERM', async () => {
  assert.deepEqual(errors, []);
  await browser.close();
  browser = null;
  await demo.stop();
  assert.equal(demo.proc.exitCode, 0, demo.log.join('\n'));
  const left = existsSync('/run/netns') ? readdirSync('/run/netns').filter((n) => n.startsWith(`${LAB}-`)) : [];
  assert.deepEqual(left, [], 'no network namespace of the lab is left');
});
