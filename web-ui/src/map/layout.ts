// Layout. Small maps: fCoSE over every workload (the force-directed picture people read
// best). Large maps (thousands of workloads) cannot afford that within the first-render
// budget, so fCoSE lays out the *groups* instead: one box per app (sized by its
// replicas), inside its namespace box, pulled together by the traffic between apps.
// Replicas of an app are interchangeable, so within its box cytoscape's grid places them.

import cytoscape from 'cytoscape';
import type { Core, ElementDefinition } from 'cytoscape';

/** Above this many workloads the group layout is used. */
export const BIG_NODES = 400;
const CELL = 46;
export const lastTimings: Record<string, number> = {};

export function layoutSmall(cy: Core): Promise<void> {
  const n = cy.nodes().length;
  const layout = cy.layout({
    name: 'fcose', quality: 'default', animate: false, randomize: true,
    nodeDimensionsIncludeLabels: true, packComponents: true, nodeSeparation: 60,
    idealEdgeLength: 90, nestingFactor: 0.3, numIter: n > 150 ? 1200 : 2500,
  } as cytoscape.LayoutOptions);
  const done = new Promise<void>((resolve) => layout.one('layoutstop', () => resolve()));
  layout.run();
  return done;
}

/** What the group layout needs of a workload: no cytoscape element, only data. */
export interface Placeable { id: string; ns: string; app?: string }
export type Positions = Map<string, { x: number; y: number }>;

/**
 * Positions for a large map, computed from the data before any element exists: adding
 * the nodes with their positions draws them once, where a layout run afterwards moves
 * 2,000 nodes and makes cytoscape recompute 10,000 edges' geometry a second time.
 */
export async function layoutGrouped(nodes: Placeable[], edges: { source: string; destination: string }[]): Promise<Positions> {
  const tStart = performance.now();
  const members = new Map<string, string[]>();
  const nsOf = new Map<string, string>();
  for (const n of nodes) {
    const key = n.app ? `app:${n.ns}/${n.app}` : `ns:${n.ns}`;
    nsOf.set(key, n.ns);
    const list = members.get(key) ?? [];
    list.push(n.id);
    members.set(key, list);
  }
  const boxOf = new Map<string, string>();
  const els: ElementDefinition[] = [];
  const outer = new Set<string>();
  for (const [key, list] of members) {
    const cols = Math.ceil(Math.sqrt(list.length));
    const rows = Math.ceil(list.length / cols);
    const parent = `box:${nsOf.get(key)}`;
    outer.add(parent);
    els.push({ group: 'nodes', data: { id: key, parent, w: cols * CELL, h: rows * CELL } });
    for (const id of list) boxOf.set(id, key);
  }
  for (const p of outer) els.unshift({ group: 'nodes', data: { id: p } });
  const weights = new Map<string, number>();
  for (const e of edges) {
    const a = boxOf.get(e.source);
    const b = boxOf.get(e.destination);
    if (!a || !b || a === b) continue;
    const k = a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`;
    weights.set(k, (weights.get(k) ?? 0) + 1);
  }
  // Only each box's strongest links pull: thousands of weak ones cost time and add noise.
  const kept = new Set<string>();
  const byBox = new Map<string, [string, number][]>();
  for (const [k, w] of weights) {
    for (const end of k.split('\u0000')) {
      const list = byBox.get(end) ?? [];
      list.push([k, w]);
      byBox.set(end, list);
    }
  }
  for (const list of byBox.values()) {
    list.sort((x, y) => y[1] - x[1]);
    for (const [k] of list.slice(0, 3)) kept.add(k);
  }
  for (const k of kept) {
    const [a, b] = k.split('\u0000');
    els.push({ group: 'edges', data: { id: `m:${k}`, source: a, target: b } });
  }
  lastTimings.collect = performance.now() - tStart;
  const meta = cytoscape({ headless: true, styleEnabled: true, elements: els, style: [{ selector: 'node', style: { width: 'data(w)', height: 'data(h)' } }] });
  const layout = meta.layout({
    name: 'fcose', quality: 'default', animate: false, randomize: true, packComponents: true,
    nodeSeparation: 80, idealEdgeLength: 160, nestingFactor: 0.2, numIter: 1500,
  } as cytoscape.LayoutOptions);
  const done = new Promise<void>((resolve) => layout.one('layoutstop', () => resolve()));
  const t0 = performance.now();
  lastTimings.metaInit = t0 - tStart - lastTimings.collect;
  layout.run();
  await done;
  const t1 = performance.now();
  const positions: Positions = new Map();
  for (const [key, list] of members) {
    const c = meta.getElementById(key).position();
    const cols = Math.ceil(Math.sqrt(list.length));
    const rows = Math.ceil(list.length / cols);
    list.forEach((id, i) => {
      positions.set(id, {
        x: c.x + ((i % cols) - (cols - 1) / 2) * CELL,
        y: c.y + (Math.floor(i / cols) - (rows - 1) / 2) * CELL,
      });
    });
  }
  meta.destroy();
  lastTimings.meta = t1 - t0;
  lastTimings.metaEdges = kept.size;
  return positions;
}

/**
 * Namespace frames for a large map: plain nodes drawn behind everything, sized to their
 * workloads' positions. Unlike compound nodes they cost nothing when a workload changes.
 */
export function frames(nodes: Placeable[], positions: Positions): ElementDefinition[] {
  const box = new Map<string, { x1: number; y1: number; x2: number; y2: number }>();
  for (const n of nodes) {
    const p = positions.get(n.id);
    if (!p) continue;
    const b = box.get(n.ns) ?? { x1: Infinity, y1: Infinity, x2: -Infinity, y2: -Infinity };
    b.x1 = Math.min(b.x1, p.x); b.y1 = Math.min(b.y1, p.y); b.x2 = Math.max(b.x2, p.x); b.y2 = Math.max(b.y2, p.y);
    box.set(n.ns, b);
  }
  const pad = 40;
  return [...box.entries()].map(([ns, b]) => ({
    group: 'nodes',
    data: { id: `frame:${ns}`, label: ns, w: b.x2 - b.x1 + 2 * pad, h: b.y2 - b.y1 + 2 * pad },
    position: { x: (b.x1 + b.x2) / 2, y: (b.y1 + b.y2) / 2 },
    classes: 'frame',
    selectable: false,
    grabbable: false,
  }));
}
