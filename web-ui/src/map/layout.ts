// Layout. Small maps: fCoSE over every workload (the force-directed picture people read
// best). Large maps (thousands of workloads) cannot afford any force layout within the
// first-render budget (fCoSE over even the app groups alone took ~0.7 s of the 2 s), so
// they get a grouped grid computed in one pass over the data: replicas of an app on a
// grid inside its box, app boxes packed in rows inside their namespace, namespaces packed
// in rows to the shape of the screen. Deterministic: the same inventory gives the same
// picture on every load, so people find things where they left them.

import cytoscape from 'cytoscape';
import type { Core } from 'cytoscape';
import type { GraphNode } from '../api/types';

/** Above this many workloads the grouped grid is used. */
export const BIG_NODES = 400;
const CELL = 46;
const APP_PAD = 16;
const APP_LABEL = 18;
const NS_PAD = 34;
const NS_LABEL = 40;
const GAP = 24;

let fcoseLoaded = false;

/** fCoSE is fetched when a small map first needs it: a large map's first render never does. */
export async function layoutSmall(cy: Core): Promise<void> {
  if (!fcoseLoaded) {
    cytoscape.use((await import('cytoscape-fcose')).default);
    fcoseLoaded = true;
  }
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

export type Positions = Map<string, { x: number; y: number }>;

/** A drawn box: a namespace frame or an app box, with the group id the API gave it. */
export interface Box { id: string; label: string; kind: 'ns' | 'app'; ns: string; x: number; y: number; w: number; h: number }

export interface Grid { positions: Positions; boxes: Box[] }

interface Sized { w: number; h: number; x?: number; y?: number }

/**
 * Shelf packing: left to right until the row is wider than `width`, then a new row.
 * Sets each item's top-left corner; answers the size of the whole.
 */
function shelves(items: Sized[], width: number): { w: number; h: number } {
  let x = 0, y = 0, rowH = 0, maxW = 0;
  for (const it of items) {
    if (x > 0 && x + it.w > width) { y += rowH + GAP; x = 0; rowH = 0; }
    it.x = x; it.y = y;
    x += it.w + GAP;
    rowH = Math.max(rowH, it.h);
    maxW = Math.max(maxW, x - GAP);
  }
  return { w: maxW, h: y + rowH };
}

/** The top-level group of a node: its namespace's group, or `external`. */
export function topGroup(n: GraphNode): string {
  return n.namespace ? `ns:${n.namespace}` : n.group;
}

export function layoutGrid(nodes: Iterable<GraphNode>, aspect = 1.6): Grid {
  // namespace group → inner group (an app, or the namespace itself) → members
  const tree = new Map<string, Map<string, string[]>>();
  const labels = new Map<string, string>();
  const nsName = new Map<string, string>();
  for (const n of nodes) {
    const top = topGroup(n);
    labels.set(top, n.namespace ?? n.group);
    nsName.set(top, n.namespace ?? '(external)');
    if (n.app) labels.set(n.group, n.app);
    const inner = tree.get(top) ?? new Map<string, string[]>();
    const list = inner.get(n.group) ?? [];
    list.push(n.id);
    inner.set(n.group, list);
    tree.set(top, inner);
  }
  const nsItems: (Sized & { id: string; apps: (Sized & { id: string; members: string[]; cols: number })[] })[] = [];
  for (const top of [...tree.keys()].sort()) {
    const inner = tree.get(top)!;
    const apps = [...inner.keys()].sort().map((id) => {
      const members = inner.get(id)!.sort();
      const cols = Math.ceil(Math.sqrt(members.length));
      const rows = Math.ceil(members.length / cols);
      return { id, members, cols, w: cols * CELL + 2 * APP_PAD, h: rows * CELL + 2 * APP_PAD + APP_LABEL };
    });
    const area = apps.reduce((a, x) => a + (x.w + GAP) * (x.h + GAP), 0);
    const inside = shelves(apps, Math.sqrt(area) * 1.15);
    nsItems.push({ id: top, apps, w: inside.w + 2 * NS_PAD, h: inside.h + 2 * NS_PAD + NS_LABEL });
  }
  const area = nsItems.reduce((a, x) => a + (x.w + GAP) * (x.h + GAP), 0);
  shelves(nsItems, Math.max(Math.sqrt(area * aspect), ...nsItems.map((x) => x.w)));
  const positions: Positions = new Map();
  const boxes: Box[] = [];
  for (const ns of nsItems) {
    const nsLabel = nsName.get(ns.id) ?? ns.id;
    boxes.push({ id: ns.id, label: labels.get(ns.id) ?? ns.id, kind: 'ns', ns: nsLabel, x: ns.x! + ns.w / 2, y: ns.y! + ns.h / 2, w: ns.w, h: ns.h });
    for (const app of ns.apps) {
      const left = ns.x! + NS_PAD + app.x!;
      const top = ns.y! + NS_PAD + NS_LABEL + app.y!;
      // Workloads straight in a namespace (no app label) get no box of their own.
      if (app.id !== ns.id) {
        // A closed box tells how many workloads it holds.
        boxes.push({ id: app.id, label: `${labels.get(app.id) ?? app.id} · ${app.members.length}`, kind: 'app', ns: nsLabel, x: left + app.w / 2, y: top + app.h / 2, w: app.w, h: app.h });
      }
      app.members.forEach((id, i) => {
        positions.set(id, {
          x: left + APP_PAD + ((i % app.cols) + 0.5) * CELL,
          y: top + APP_PAD + APP_LABEL + (Math.floor(i / app.cols) + 0.5) * CELL,
        });
      });
    }
  }
  return { positions, boxes };
}
