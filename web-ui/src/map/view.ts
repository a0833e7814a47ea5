// The map on screen: cytoscape.js. Small maps: compound nodes for namespaces and apps,
// laid out by fCoSE, every connection drawn. Large maps: a grouped grid (layout.ts) with
// namespace frames and app boxes as plain nodes, and connections grouped into bundles
// (bundle.ts) until the user zooms in or expands a group. Live updates change edges in
// place; a layout runs only when the set of nodes changes, so nothing jumps.

import cytoscape from 'cytoscape';
import type { Core, ElementDefinition } from 'cytoscape';
import fcose from 'cytoscape-fcose';
import type { DrawnEdge, Filters, MapModel } from './model';
import { stylesheet } from './style';
import { BIG_NODES, layoutGrid, layoutSmall } from './layout';
import type { Box } from './layout';
import type { Bundle } from './bundle';
import { Edges } from './edges';

cytoscape.use(fcose);

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
  timings: Record<string, number> = {};

  constructor(container: HTMLElement, h: ViewHandlers) {
    this.cy = cytoscape({
      container, wheelSensitivity: 0.3, minZoom: 0.05, maxZoom: 4,
      style: stylesheet(false), boxSelectionEnabled: false,
      // While panning or zooming, move a snapshot of the picture instead of redrawing
      // every element each frame; the full drawing follows when the gesture stops.
      textureOnViewport: true,
    });
    this.edges = new Edges(this.cy);
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
    const drawn = model.drawn(f.windowMs);
    const big = drawn.size > BIG_EDGES || model.nodes.size > BIG_NODES;
    if (big !== this.big) {
      this.big = big;
      this.cy.style(stylesheet(big));
    }
    const known = new Set(this.cy.nodes('.workload, .external').map((n) => n.id()));
    const sameNodes = model.nodes.size === known.size && [...model.nodes.keys()].every((id) => known.has(id));
    const positions = new Map(this.cy.nodes().map((n) => [n.id(), { ...n.position() }]));
    // A large map is placed from the data before its elements exist: adding the nodes
    // with their positions draws them once.
    const grid = model.nodes.size > BIG_NODES && !sameNodes ? layoutGrid(model.nodes.values()) : null;
    const tPlaced = performance.now();
    const oldBoxes = big && sameNodes ? this.cy.nodes('.frame, .box').map((n) => n.json() as ElementDefinition) : [];
    const els: ElementDefinition[] = [];
    // Compound boxes make cytoscape walk parents and descendants on every change: fine
    // for a few hundred workloads, seconds for thousands. A large map draws its boxes
    // as plain nodes behind the workloads instead.
    if (grid) els.push(...grid.boxes.map(boxElement));
    else els.push(...oldBoxes);
    for (const g of big ? [] : model.groups.values()) {
      els.push({ group: 'nodes', data: { id: g.id, label: g.label, parent: g.parent ?? undefined }, classes: g.id.startsWith('app:') ? 'app' : 'ns' });
    }
    for (const n of model.nodes.values()) {
      const label = n.kind === 'external' ? n.id : n.id.slice(n.id.indexOf('/') + 1);
      els.push({
        group: 'nodes',
        data: { id: n.id, label, parent: big || !model.groups.has(n.group) ? undefined : n.group, app: n.app ?? undefined, mode: n.mode ?? 'none', live: n.live, ns: n.namespace ?? '(external)' },
        classes: n.kind,
        position: sameNodes ? positions.get(n.id) : grid?.positions.get(n.id),
      });
    }
    this.edges.reset(model, drawn, big);
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
    if (!sameNodes) await this.layout(grid !== null);
    const t3 = performance.now();
    this.timings = { ...this.timings, layout: tPlaced - t0 + t3 - t2, elements: t1 - tPlaced, filters: t2 - t1, drawnEdges: this.cy.edges().length };
  }

  private async layout(placed: boolean): Promise<void> {
    if (!placed) await layoutSmall(this.cy);
    const t = performance.now();
    this.fitToPositions();
    this.timings.fit = performance.now() - t;
  }

  /**
   * `cy.fit()` measures every element's bounding box (edge curves, labels, compound
   * boxes): seconds for 10^4 edges. The workloads' positions bound the picture well
   * enough, plus a margin for boxes and labels.
   */
  private fitToPositions(): void {
    let x1 = Infinity, y1 = Infinity, x2 = -Infinity, y2 = -Infinity;
    this.cy.nodes('.workload, .external').forEach((n) => {
      const p = n.position();
      x1 = Math.min(x1, p.x); y1 = Math.min(y1, p.y); x2 = Math.max(x2, p.x); y2 = Math.max(y2, p.y);
    });
    // A large map's namespace frames are plain nodes: their own size bounds them.
    this.cy.nodes('.frame').forEach((n) => {
      const p = n.position(), w = n.data('w') / 2, h = n.data('h') / 2;
      x1 = Math.min(x1, p.x - w); y1 = Math.min(y1, p.y - h); x2 = Math.max(x2, p.x + w); y2 = Math.max(y2, p.y + h);
    });
    if (!Number.isFinite(x1)) return;
    const margin = this.cy.nodes('.frame').nonempty() ? 10 : 70;
    const w = x2 - x1 + 2 * margin, h = y2 - y1 + 2 * margin;
    const zoom = Math.min(this.cy.width() / w, this.cy.height() / h, 1.5);
    this.cy.viewport({
      zoom,
      pan: { x: this.cy.width() / 2 - zoom * (x1 + x2) / 2, y: this.cy.height() / 2 - zoom * (y1 + y2) / 2 },
    });
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
    const active = !!f.namespaces || f.verdicts.size < 3 || !!f.search;
    if (edges) this.edges.filter(f);
    // Nothing to hide or fade, and nothing hidden or faded yet: skip the walk.
    if (!active && !this.filtered) return;
    this.filtered = active;
    cy.batch(() => {
      for (const n of model.nodes.values()) {
        const el = cy.getElementById(n.id);
        const match = model.matchesSearch(n, f.search);
        el.toggleClass('hidden', !model.nodeVisible(n, f));
        el.toggleClass('match', match);
        el.toggleClass('faded', !!f.search && !match);
      }
      // A box or frame with nothing visible inside is hidden with its content.
      cy.nodes('.frame, .box').forEach((b) => { b.toggleClass('hidden', !!f.namespaces && !f.namespaces.has(b.data('ns'))); });
      cy.nodes(':parent').forEach((p) => {
        const any = p.descendants().filter((c) => !c.isParent() && !c.hasClass('hidden')).nonempty();
        p.toggleClass('hidden', !any);
      });
    });
  }

  focus(id: string): void {
    const el = this.cy.getElementById(id);
    if (el.empty()) return;
    this.cy.elements().unselect();
    el.select();
    this.cy.animate({ center: { eles: el }, duration: 200 });
  }
}

function boxElement(b: Box): ElementDefinition {
  return {
    group: 'nodes',
    data: { id: b.id, label: b.label, ns: b.ns, w: b.w, h: b.h },
    position: { x: b.x, y: b.y },
    classes: b.kind === 'ns' ? 'frame' : 'box',
    selectable: false,
    grabbable: false,
  };
}
