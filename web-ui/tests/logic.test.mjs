// The map's pure logic (no browser, no server): how connections are grouped into bundles
// and where the grouped grid puts workloads and boxes. The TypeScript modules are built
// with Vite (the UI's own build) into test-results/ and imported from there.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { build } from 'vite';
import { ARTIFACTS, WEB_UI } from './lib/env.mjs';

let bundle;
let layout;

before(async () => {
  const outDir = join(ARTIFACTS, 'logic');
  await build({
    configFile: false, logLevel: 'silent', root: WEB_UI,
    build: {
      outDir, emptyOutDir: true, minify: false,
      lib: { entry: { bundle: 'src/map/bundle.ts', layout: 'src/map/layout.ts' }, formats: ['es'] },
      rollupOptions: { external: ['cytoscape', 'cytoscape-fcose'] },
    },
  });
  bundle = await import(pathToFileURL(join(outDir, 'bundle.js')).href);
  layout = await import(pathToFileURL(join(outDir, 'layout.js')).href);
});

const node = (id, ns, app) => ({ id, kind: 'workload', namespace: ns, app, group: app ? `app:${ns}/${app}` : `ns:${ns}`, labels: {}, node: null, mode: 'enforce', live: true });
const nodes = new Map([
  node('a/w1', 'a', 'x'), node('a/w2', 'a', 'x'), node('a/w3', 'a', 'y'), node('b/w4', 'b', 'z'), node('b/w5', 'b', null),
].map((n) => [n.id, n]));
const groups = new Map([
  { id: 'ns:a', label: 'a', parent: null }, { id: 'app:a/x', label: 'x', parent: 'ns:a' }, { id: 'app:a/y', label: 'y', parent: 'ns:a' },
  { id: 'ns:b', label: 'b', parent: null }, { id: 'app:b/z', label: 'z', parent: 'ns:b' },
].map((g) => [g.id, g]));
const edge = (source, destination, verdict, port = 80) => ({ key: `e:${source}|${destination}|TCP|${port}`, source, destination, protocol: 'TCP', port, verdict, lastSeen: 0, records: [] });
const edges = [
  edge('a/w1', 'a/w3', 'allowed'), edge('a/w3', 'a/w1', 'denied'), edge('a/w1', 'b/w4', 'allowed'),
  edge('a/w2', 'b/w4', 'would-deny'), edge('a/w1', 'a/w2', 'allowed'), edge('b/w4', 'b/w5', 'allowed'),
];
const closed = { open: () => false, collapsed: (g) => g.startsWith('app:') };
const byKey = (g) => Object.fromEntries(g.bundles.map((b) => [b.key, { verdict: b.verdict, n: b.members.length }]));

test('closed boxes: both directions in one bundle, the strictest verdict wins, connections inside a box loop on it', () => {
  const g = bundle.group(edges, nodes, groups, closed);
  assert.deepEqual(byKey(g), {
    'b:app:a/x<>app:a/y': { verdict: 'denied', n: 2 },
    'b:ns:a<>ns:b': { verdict: 'would-deny', n: 2 },
    'b:app:a/x<>app:a/x': { verdict: 'allowed', n: 1 },
    // b/w5 has no app: it is drawn as itself, its peer's app box at the other end.
    'b:app:b/z<>b/w5': { verdict: 'allowed', n: 1 },
  });
  assert.deepEqual(g.edges, []);
});

test('every connection is drawn exactly once, whatever is open', () => {
  for (const open of [[], ['app:a/x'], ['app:a/x', 'app:b/z'], ['ns:a'], ['ns:a', 'ns:b']]) {
    const g = bundle.group(edges, nodes, groups, { open: (x) => open.includes(x), collapsed: closed.collapsed });
    const drawn = [...g.edges.map((d) => d.key), ...g.bundles.flatMap((b) => b.members.map((d) => d.key))].sort();
    assert.deepEqual(drawn, edges.map((d) => d.key).sort(), `open: ${open}`);
  }
});

test('an open box draws its workloads\' connections as themselves, towards the other side\'s group', () => {
  const g = bundle.group(edges, nodes, groups, { open: (x) => x === 'app:a/x', collapsed: closed.collapsed });
  assert.deepEqual(g.edges.map((d) => d.key), ['e:a/w1|a/w2|TCP|80']);
  const k = byKey(g);
  assert.deepEqual(k['b:a/w1<>app:a/y'], { verdict: 'denied', n: 2 });
  // Across namespaces the far end is the other namespace's frame.
  assert.deepEqual(k['b:a/w1<>ns:b'], { verdict: 'allowed', n: 1 });
  assert.deepEqual(k['b:a/w2<>ns:b'], { verdict: 'would-deny', n: 1 });
  // A small map (no collapsed boxes): inside one app, a connection is itself.
  const small = bundle.group(edges, nodes, groups, { open: () => false, collapsed: () => false });
  assert.ok(small.edges.some((d) => d.key === 'e:a/w1|a/w2|TCP|80'));
});

test('the grouped grid: deterministic, no two workloads in one place, each inside its box, frames apart', () => {
  const many = [];
  for (let i = 0; i < 500; i++) many.push(node(`ns-${i % 7}/w-${i}`, `ns-${i % 7}`, i % 11 === 0 ? null : `app-${i % 5}`));
  const a = layout.layoutGrid(many);
  const b = layout.layoutGrid([...many].reverse());
  assert.deepEqual([...a.positions.entries()].sort(), [...b.positions.entries()].sort(), 'the order of the data does not matter');
  assert.deepEqual(a.boxes, b.boxes);
  const seen = new Set([...a.positions.values()].map((p) => `${p.x},${p.y}`));
  assert.equal(seen.size, many.length);
  const inside = (p, r) => p.x > r.x - r.w / 2 && p.x < r.x + r.w / 2 && p.y > r.y - r.h / 2 && p.y < r.y + r.h / 2;
  const box = new Map(a.boxes.map((x) => [x.id, x]));
  for (const n of many) {
    const p = a.positions.get(n.id);
    assert.ok(inside(p, box.get(`ns:${n.namespace}`)), `${n.id} in its namespace`);
    if (n.app) assert.ok(inside(p, box.get(n.group)), `${n.id} in its app box`);
  }
  const frames = a.boxes.filter((x) => x.kind === 'ns');
  assert.equal(frames.length, 7);
  for (const f of frames) for (const g of frames) {
    if (f === g) continue;
    const apart = Math.abs(f.x - g.x) * 2 >= f.w + g.w || Math.abs(f.y - g.y) * 2 >= f.h + g.h;
    assert.ok(apart, `${f.id} and ${g.id} do not overlap`);
  }
  assert.match(box.get('app:ns-0/app-0').label, /^app-0 · \d+$/);
});
