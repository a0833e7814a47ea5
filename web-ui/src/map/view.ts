// The map on screen: cytoscape.js. Small maps: compound nodes for namespaces and apps,
// laid out by fCoSE, every connection drawn. Large maps: a grouped grid (layout.ts) with
// namespace frames and app boxes as plain nodes, and connections grouped into bundles
// (bundle.ts) until the user zooms in or expands a group. Live updates change edges in
// place; a layout runs only when the set of nodes changes, so nothing jumps.

import cytoscape from 'cytoscape';
import type { CollectionReturnValue, Core, ElementDefinition, NodeSingular } from 'cytoscape';
import type { DrawnEdge, Filters, MapModel } from './model';
import { stylesheet } from './style';
import { BIG_NODES, layoutGrid, layoutSmall } from './layout';
import type { Grid, Positions } from './layout';
import { boxElement, fitToPositions } from './fit';
import type { GraphNode } from '../api/types';
import type { Bundle } from './bundle';
import { Edges } from './edges';

/** Above this many edges the map draws straight edges without labels until zoomed in. */
const BIG_EDGES = 1500;

export interface ViewHandlers {
  onNode(id: string): void;
  onEdge(key: string): void;
  onClear(): void;
}

export class MapView {
  cy: Core;
  private big = false;
  private edges: Edges;
  private model: MapModel | null = null;
  /** A large map's grid; every workload's place, drawn or not. */
  private grid: Grid | null = null;
  private positions: Positions = new Map();
  /** How far each box of the grid extends from its centre (for loops around it). */
  private boxes = new Map<string, number>();
  private f: Filters | null = null;
  timings: Record<string, number> = {};

  /** `large`: draw any map as a large one (grid, closed boxes, bundles), `?map=large`. */
  constructor(container: HTMLElement, h: ViewHandlers, private readonly large = false) {
    this.cy = cytoscape({
      container, wheelSensitivity: 0.3, minZoom: 0.05, maxZoom: 4,
      style: stylesheet(false), boxSelectionEnabled: false,
      // While panning or zooming, move a snapshot of the picture instead of redrawing
      // every element each frame; the full drawing follows when the gesture stops.
      textureOnViewport: true,
    });
    this.edges = new Edges(this.cy, (n) => this.nodeElement(n), (added) => this.decorate(added), (id) => this.boxes.get(id) ?? 40);
    this.cy.on('tap', 'node', (e) => {
      const n = e.target;
      if (n.isParent() || n.hasClass('box')) this.edges.toggleGroup(n.id());
      else if (!n.hasClass('frame')) h.onNode(n.id());
    });
    this.cy.on('tap', 'edge', (e) => h.onEdge(e.target.id()));
    // Cytoscape caches where its container is; when the header above wraps (a longer
    // role badge, more namespaces) the map moves and shrinks, and clicks would land on
    // the wrong element until it measures again.
    new ResizeObserver(() => this.cy.resize()).observe(container);
    this.cy.on('tap', (e) => { if (e.target === this.cy) h.onClear(); });
  }

  edge(key: string): DrawnEdge | undefined { return this.edges.edge(key); }
  bundle(key: string): Bundle | undefined { return this.edges.bundle(key); }
  /** Whether connections are grouped (by default: on large maps). */
  grouped(): boolean { return this.edges.grouped; }
  setGrouped(on: boolean): void { this.edges.setGrouped(on); }
  expand(groups: Iterable<string>): void { this.edges.expand(groups); }
  /** Called when connections are regrouped (a panel may show one that is gone). */
  set onRegroup(f: () => void) { this.edges.onRegroup = f; }

  /** Replaces everything; lays out again unless the same nodes are already placed. */
  async render(model: MapModel, f: Filters): Promise<void> {
    const t0 = performance.now();
    this.model = model;
    const drawn = model.drawn(f.windowMs);
    const big = this.large || drawn.size > BIG_EDGES || model.nodes.size > BIG_NODES;
    if (big !== this.big) {
      this.big = big;
      this.cy.style(stylesheet(big));
    }
    const ids = [...model.nodes.keys()];
    let fresh: boolean;
    if (big) {
      // Placed from the data before any element exists, so each node is drawn once
      // where it belongs; kept while the set of workloads stays the same.
      fresh = !this.grid || this.grid.positions.size !== ids.length || !ids.every((id) => this.grid!.positions.has(id));
      if (fresh) {
        this.grid = layoutGrid(model.nodes.values());
        this.boxes = new Map(this.grid.boxes.map((b) => [b.id, Math.max(b.w, b.h) / 2]));
      }
      this.positions = this.grid!.positions;
    } else {
      this.grid = null;
      const known = new Set(this.cy.nodes('.workload, .external').map((n) => n.id()));
      fresh = ids.length !== known.size || !ids.every((id) => known.has(id));
      this.positions = fresh ? new Map() : new Map(this.cy.nodes().map((n) => [n.id(), { ...n.position() }]));
    }
    const tPlaced = performance.now();
    this.edges.reset(model, drawn, big, fresh);
    const els: ElementDefinition[] = [];
    // Compound boxes make cytoscape walk parents and descendants on every change: fine
    // for a few hundred workloads, seconds for thousands. A large map draws its boxes
    // as plain nodes behind the workloads instead.
    if (this.grid) els.push(...this.grid.boxes.map(boxElement));
    for (const g of big ? [] : model.groups.values()) {
      els.push({ group: 'nodes', data: { id: g.id, label: g.label, parent: g.parent ?? undefined }, classes: g.id.startsWith('app:') ? 'app' : 'ns' });
    }
    for (const n of model.nodes.values()) if (this.edges.shows(n)) els.push(this.nodeElement(n));
    els.push(...this.edges.elements(f));
    this.cy.batch(() => {
      this.cy.elements().remove();
      this.cy.add(els);
    });
    const t1 = performance.now();
    // The new elements carry no filter classes yet; the edges got theirs when made.
    this.filtered = false;
    this.applyFilters(model, f, false);
    const t2 = performance.now();
    if (fresh) await this.layout(big);
    const t3 = performance.now();
    this.timings = {
      ...this.timings, layout: tPlaced - t0 + t3 - t2, elements: t1 - tPlaced, filters: t2 - t1,
      drawnNodes: this.cy.nodes('.workload, .external').length, drawnEdges: this.cy.edges().length,
    };
  }

  private nodeElement(n: GraphNode): ElementDefinition {
    const label = n.kind === 'external' ? n.id : n.id.slice(n.id.indexOf('/') + 1);
    return {
      group: 'nodes',
      data: { id: n.id, label, parent: this.big || !this.model?.groups.has(n.group) ? undefined : n.group, app: n.app ?? undefined, mode: n.mode ?? 'none', live: n.live, ns: n.namespace ?? '(external)' },
      classes: n.kind,
      position: this.positions.get(n.id),
    };
  }

  private async layout(placed: boolean): Promise<void> {
    if (!placed) await layoutSmall(this.cy);
    const t = performance.now();
    fitToPositions(this.cy);
    this.timings.fit = performance.now() - t;
  }

  /** Brings edges to the model's current state without touching node positions. */
  update(model: MapModel, f: Filters): void {
    this.edges.update(model.drawn(f.windowMs), f);
  }

  setMode(id: string, mode: string): void {
    this.cy.getElementById(id).data('mode', mode);
  }

  private filtered = false;

  applyFilters(model: MapModel, f: Filters, edges = true): void {
    const cy = this.cy;
    this.f = f;
    const active = !!f.namespaces || f.verdicts.size < 3 || !!f.search;
    if (edges) this.edges.filter(f);
    // Nothing to hide or fade, and nothing hidden or faded yet: skip the walk.
    if (!active && !this.filtered) return;
    this.filtered = active;
    cy.batch(() => {
      const matched = new Set<string>();
      for (const n of model.nodes.values()) {
        if (model.matchesSearch(n, f.search)) matched.add(n.group);
        const el = cy.getElementById(n.id);
        if (el.nonempty()) this.classify(el as unknown as NodeSingular, n, f);
      }
      // A box or frame of a namespace filtered out is hidden with its content; a closed
      // app box holding a match is marked as the match.
      cy.nodes('.frame, .box').forEach((b) => {
        b.toggleClass('hidden', !!f.namespaces && !f.namespaces.has(b.data('ns')));
        b.toggleClass('match', b.hasClass('box') && matched.has(b.id()));
      });
      cy.nodes(':parent').forEach((p) => {
        const any = p.descendants().filter((c) => !c.isParent() && !c.hasClass('hidden')).nonempty();
        p.toggleClass('hidden', !any);
      });
    });
  }

  private classify(el: NodeSingular, n: GraphNode, f: Filters): void {
    const match = !!this.model?.matchesSearch(n, f.search);
    el.toggleClass('hidden', !this.model?.nodeVisible(n, f));
    el.toggleClass('match', match);
    el.toggleClass('faded', !!f.search && !match);
  }

  /** Workloads added as their box opened get the classes of the filters in force. */
  private decorate(added: CollectionReturnValue): void {
    const f = this.f;
    if (!f || !this.filtered || !this.model) return;
    added.nodes().forEach((el) => {
      const n = this.model!.nodes.get(el.id());
      if (n) this.classify(el, n, f);
    });
  }

  focus(id: string): void {
    // A workload in a closed box: open the box first.
    const n = this.model?.nodes.get(id);
    if (n && this.cy.getElementById(id).empty()) this.edges.expand([n.group]);
    const el = this.cy.getElementById(id);
    if (el.empty()) return;
    this.cy.elements().unselect();
    el.select();
    this.cy.animate({ center: { eles: el }, duration: 200 });
  }
}
