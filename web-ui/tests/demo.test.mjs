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
import { clickEdge, clickNode, edgeVerdicts, until } from './lib/map.mjs';

const LAB = `ui${unique()}`;
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
  assert.equal(await page.evaluate(() => window.__bulkhead.loads), 1, 'edges came over the live stream, without a reload');
  await shot('01-map');
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

test('no console errors, and the demo removes everything on SIGTERM', async () => {
  assert.deepEqual(errors, []);
  await browser.close();
  browser = null;
  await demo.stop();
  assert.equal(demo.proc.exitCode, 0, demo.log.join('\n'));
  const left = existsSync('/run/netns') ? readdirSync('/run/netns').filter((n) => n.startsWith(`${LAB}-`)) : [];
  assert.deepEqual(left, [], 'no network namespace of the lab is left');
});
