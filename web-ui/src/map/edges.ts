// The map's edges: every connection as itself, or grouped into bundles (bundle.ts). Either
// way the wanted edges are computed from the model and the filters, and cytoscape is
// brought to them by difference, touching only the edges that changed: a live update of
// one connection on a 10,000-edge map restyles one edge, not all of them.
// On a large map the app boxes start closed, drawing neither their workloads nor their
// connections one by one (cytoscape spends ~0.5 ms per element on the first frame under
// load, and 2,000 squares of a few pixels tell less than 240 labelled boxes); a box opens
// when zoomed in on or clicked, and its workloads are added then, where the grid put them.

import type { CollectionReturnValue, Core, ElementDefinition } from 'cytoscape';
import type { GraphNode } from '../api/types';
import type { DrawnEdge, Filters, MapModel } from './model';
import { portLabel } from './model';
import { group } from './bundle';
import type { Bundle } from './bundle';

/** From this zoom on (where workload labels become legible) the app boxes in view open. */
const EXPAND_ZOOM = 0.8;

interface Wanted { data: Record<string, unknown>; hidden: boolean; faded: boolean; bundle: boolean }

export class Edges {
  grouped = false;
  onRegroup: () => void = () => undefined;
  /** The user's choice of grouping; null: grouped when the map is large. */
  private choice: boolean | null = null;
  private model: MapModel | null = null;
  private f: Filters | null = null;
  private drawn = new Map<string, DrawnEdge>();
  private bundles = new Map<string, Bundle>();
  private opened = new Set<string>();
  private inView = new Set<string>();
  private timer: number | undefined;
  /** Whether app boxes start closed (a large map). */
  private collapsing = false;

  /**
   * `node` makes a workload's element (with its place); `decorate` gives added ones the
   * classes of the current filters; `reach` is how far a box extends from its centre.
   */
  constructor(
    private readonly cy: Core,
    private readonly node: (n: GraphNode) => ElementDefinition,
    private readonly decorate: (added: CollectionReturnValue) => void,
    private readonly reach: (box: string) => number,
  ) {
    // After a pan or zoom settles, open the app boxes in view when zoomed in enough.
    cy.on('viewport', () => {
      window.clearTimeout(this.timer);
      this.timer = window.setTimeout(() => this.zoomed(), 200);
    });
  }

  edge(key: string): DrawnEdge | undefined { return this.drawn.get(key); }
  bundle(key: string): Bundle | undefined { return this.bundles.get(key); }

  /**
   * A new graph. `moved`: the workloads were placed anew, so what zooming had opened is
   * forgotten (the next pan or zoom opens what is in view then).
   */
  reset(model: MapModel, drawn: Map<string, DrawnEdge>, big: boolean, moved: boolean): void {
    this.model = model;
    this.drawn = drawn;
    this.grouped = this.choice ?? big;
    this.collapsing = big;
    if (moved) this.inView.clear();
  }

  /** Whether a group is drawn in detail (its workloads, its connections one by one). */
  isOpen(group: string): boolean {
    return !this.grouped || this.opened.has(group) || this.inView.has(group);
  }

  /** Whether a workload has a node on the map now. */
  shows(n: GraphNode): boolean {
    return !this.collapsing || !n.group.startsWith('app:') || this.isOpen(n.group);
  }

  /** The edges of a fresh map, as elements to add with its nodes. */
  elements(f: Filters): ElementDefinition[] {
    this.f = f;
    return [...this.wanted(f).entries()].map(([id, w]) => element(id, w));
  }

  update(drawn: Map<string, DrawnEdge>, f: Filters): void {
    this.drawn = drawn;
    this.sync(f);
  }

  filter(f: Filters): void { this.sync(f); }

  setGrouped(on: boolean): void {
    this.choice = on;
    this.grouped = on;
    if (this.f) this.sync(this.f);
  }

  toggleGroup(id: string): void {
    if (!this.grouped || !this.f) return;
    if (!this.opened.delete(id)) this.opened.add(id);
    this.sync(this.f);
  }

  expand(groups: Iterable<string>): void {
    for (const g of groups) this.opened.add(g);
    if (this.f) this.sync(this.f);
  }

  private zoomed(): void {
    if (!this.grouped || !this.collapsing || !this.f) return;
    const next = new Set<string>();
    if (this.cy.zoom() >= EXPAND_ZOOM) {
      const e = this.cy.extent();
      this.cy.nodes('.box').forEach((b) => {
        const p = b.position();
        const w = b.data('w') / 2, h = b.data('h') / 2;
        if (p.x + w >= e.x1 && p.x - w <= e.x2 && p.y + h >= e.y1 && p.y - h <= e.y2) next.add(b.id());
      });
    }
    if (next.size === this.inView.size && [...next].every((g) => this.inView.has(g))) return;
    this.inView = next;
    this.sync(this.f);
  }

  private wanted(f: Filters): Map<string, Wanted> {
    const model = this.model;
    const out = new Map<string, Wanted>();
    this.bundles = new Map();
    if (!model) return out;
    const touches = (d: DrawnEdge) => {
      const s = model.nodes.get(d.source), t = model.nodes.get(d.destination);
      return (!!s && model.matchesSearch(s, f.search)) || (!!t && model.matchesSearch(t, f.search));
    };
    const shows = (d: DrawnEdge) => {
      const s = model.nodes.get(d.source), t = model.nodes.get(d.destination);
      return f.verdicts.has(d.verdict) && (!s || model.nodeVisible(s, f)) && (!t || model.nodeVisible(t, f));
    };
    if (!this.grouped) {
      for (const d of this.drawn.values()) {
        out.set(d.key, { data: edgeData(d), hidden: !shows(d), faded: !!f.search && !touches(d), bundle: false });
      }
      return out;
    }
    // Grouped: what the filters hide is left out of the bundles, so a bundle's colour is
    // that of the connections the user asked to see.
    const detail = { open: (x: string) => this.opened.has(x) || this.inView.has(x), collapsed: (x: string) => this.collapsing && x.startsWith('app:') };
    const g = group([...this.drawn.values()].filter(shows), model.nodes, model.groups, detail);
    for (const d of g.edges) out.set(d.key, { data: edgeData(d), hidden: false, faded: !!f.search && !touches(d), bundle: false });
    for (const b of g.bundles) {
      this.bundles.set(b.key, b);
      out.set(b.key, {
        data: {
          id: b.key, source: b.source, target: b.target, verdict: b.verdict, count: b.members.length, label: `×${b.members.length}`,
          // A loop's control points sit 1.4 steps from the box's centre: outside it.
          ...(b.source === b.target ? { loop: this.reach(b.source) / 1.4 + 30 } : {}),
        },
        hidden: false, faded: !!f.search && !b.members.some(touches), bundle: true,
      });
    }
    return out;
  }

  /** Adds the workloads of boxes that opened, removes those of boxes that closed. */
  private syncNodes(): void {
    const model = this.model;
    if (!model) return;
    const present = new Set(this.cy.nodes('.workload, .external').map((n) => n.id()));
    const add: ElementDefinition[] = [];
    for (const n of model.nodes.values()) {
      const want = this.shows(n);
      if (want && !present.has(n.id)) add.push(this.node(n));
      else if (!want && present.has(n.id)) this.cy.getElementById(n.id).remove();
    }
    if (add.length > 0) this.decorate(this.cy.add(add));
  }

  private sync(f: Filters): void {
    this.f = f;
    const want = this.wanted(f);
    this.cy.batch(() => {
      this.syncNodes();
      this.cy.edges().forEach((el) => { if (!want.has(el.id())) el.remove(); });
      for (const [id, w] of want) {
        const el = this.cy.getElementById(id);
        if (el.empty()) { this.cy.add(element(id, w)); continue; }
        if (el.data('verdict') !== w.data.verdict || el.data('label') !== w.data.label) el.data(w.data);
        if (el.hasClass('hidden') !== w.hidden) el.toggleClass('hidden', w.hidden);
        if (el.hasClass('faded') !== w.faded) el.toggleClass('faded', w.faded);
      }
    });
    this.onRegroup();
  }
}

function edgeData(d: DrawnEdge): Record<string, unknown> {
  return { id: d.key, source: d.source, target: d.destination, verdict: d.verdict, label: portLabel(d.protocol, d.port) };
}

function element(id: string, w: Wanted): ElementDefinition {
  const classes = [w.bundle && 'bundle', w.hidden && 'hidden', w.faded && 'faded'].filter(Boolean).join(' ');
  return { group: 'edges', data: { ...w.data, id }, classes };
}
