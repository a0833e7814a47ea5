// The map on screen: cytoscape.js with compound nodes for namespaces and apps, laid out
// by fCoSE (a force-directed layout that understands compound nodes). Live updates
// change edges in place; a full layout runs only when the set of nodes changes, so the
// picture does not jump under the user.

import cytoscape from 'cytoscape';
import type { Core, ElementDefinition } from 'cytoscape';
import fcose from 'cytoscape-fcose';
import type { DrawnEdge, Filters, MapModel } from './model';
import { portLabel } from './model';
import { stylesheet } from './style';
import { BIG_NODES, frames, layoutGrouped, layoutSmall } from './layout';
import type { Placeable, Positions } from './layout';

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
  private drawn = new Map<string, DrawnEdge>();
  private big = false;

  constructor(container: HTMLElement, h: ViewHandlers) {
    this.cy = cytoscape({
      container, wheelSensitivity: 0.3, minZoom: 0.05, maxZoom: 4,
      style: stylesheet(false), boxSelectionEnabled: false,
      // While panning or zooming, move a snapshot of the picture instead of redrawing
      // every element each frame; the full drawing follows when the gesture stops.
      textureOnViewport: true,
    });
    this.cy.on('tap', 'node', (e) => {
      const n = e.target;
      if (!n.isParent() && !n.hasClass('frame')) h.onNode(n.id());
    });
    this.cy.on('tap', 'edge', (e) => h.onEdge(e.target.id()));
    // Cytoscape caches where its container is; when the header above wraps (a longer
    // role badge, more namespaces) the map moves and shrinks, and clicks would land on
    // the wrong element until it measures again.
    new ResizeObserver(() => this.cy.resize()).observe(container);
    this.cy.on('tap', (e) => { if (e.target === this.cy) h.onClear(); });
  }

  edge(key: string): DrawnEdge | undefined { return this.drawn.get(key); }

  /** Replaces everything; lays out again unless the same nodes are already placed. */
  timings: Record<string, number> = {};

  async render(model: MapModel, f: Filters): Promise<void> {
    const t0 = performance.now();
    const drawn = model.drawn(f.windowMs);
    const big = drawn.size > BIG_EDGES || model.nodes.size > BIG_NODES;
    if (big !== this.big) {
      this.big = big;
      this.cy.style(stylesheet(big));
    }
    const known = new Set(this.cy.nodes(':not(.frame)').map((n) => n.id()));
    const wanted = big ? [...model.nodes.keys()] : [...model.groups.keys(), ...model.nodes.keys()];
    const sameNodes = wanted.length === known.size && wanted.every((id) => known.has(id));
    const positions = new Map(this.cy.nodes().map((n) => [n.id(), { ...n.position() }]));
    // A large map is placed from the data before its elements exist (see layoutGrouped).
    const placeables: Placeable[] = [...model.nodes.values()].map((n) => ({ id: n.id, ns: n.namespace ?? '(external)', app: n.app ?? undefined }));
    const placed: Positions | null = model.nodes.size > BIG_NODES && !sameNodes ? await layoutGrouped(placeables, [...drawn.values()]) : null;
    const tPlaced = performance.now();
    const oldFrames = this.cy.nodes('.frame').map((n) => n.json() as ElementDefinition);
    const els: ElementDefinition[] = [];
    // Compound boxes make cytoscape walk parents and descendants on every change: fine
    // for a few hundred workloads, seconds for thousands. A large map draws namespace
    // frames behind plain nodes instead (see layout.ts), and apps as clusters.
    const boxes = big ? [] : [...model.groups.values()];
    for (const g of boxes) {
      els.push({ group: 'nodes', data: { id: g.id, label: g.label, parent: g.parent ?? undefined }, classes: g.id.startsWith('app:') ? 'app' : 'ns' });
    }
    for (const n of model.nodes.values()) {
      const label = n.kind === 'external' ? n.id : n.id.slice(n.id.indexOf('/') + 1);
      els.push({
        group: 'nodes',
        data: { id: n.id, label, parent: big || !model.groups.has(n.group) ? undefined : n.group, app: n.app ?? undefined, mode: n.mode ?? 'none', live: n.live, ns: n.namespace ?? '(external)' },
        classes: n.kind,
        position: sameNodes ? positions.get(n.id) : placed?.get(n.id),
      });
    }
    for (const d of drawn.values()) els.push(edgeElement(d));
    if (sameNodes) els.push(...oldFrames);
    else if (placed) els.push(...frames(placeables, placed));
    this.cy.batch(() => {
      this.cy.elements().remove();
      this.cy.add(els);
    });
    this.filtered = false;
    this.drawn = drawn;
    const t1 = performance.now();
    this.applyFilters(model, f);
    const t2 = performance.now();
    if (!sameNodes) await this.layout(placed !== null);
    const t3 = performance.now();
    this.timings = { ...this.timings, layout: tPlaced - t0 + t3 - t2, elements: t1 - tPlaced, filters: t2 - t1 };
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
    if (!Number.isFinite(x1)) return;
    const margin = 70;
    const w = x2 - x1 + 2 * margin, h = y2 - y1 + 2 * margin;
    const zoom = Math.min(this.cy.width() / w, this.cy.height() / h, 1.5);
    this.cy.viewport({
      zoom,
      pan: { x: this.cy.width() / 2 - zoom * (x1 + x2) / 2, y: this.cy.height() / 2 - zoom * (y1 + y2) / 2 },
    });
  }

  /** Brings edges to the model's current state without touching node positions. */
  update(model: MapModel, f: Filters): void {
    const drawn = model.drawn(f.windowMs);
    this.cy.batch(() => {
      for (const [key, d] of drawn) {
        const el = this.cy.getElementById(key);
        if (el.nonempty()) {
          el.data({ verdict: d.verdict, label: edgeLabel(d) });
        } else {
          this.cy.add(edgeElement(d));
        }
      }
      for (const key of this.drawn.keys()) {
        if (!drawn.has(key)) this.cy.getElementById(key).remove();
      }
    });
    this.drawn = drawn;
    this.applyFilters(model, f);
  }

  setMode(id: string, mode: string): void {
    this.cy.getElementById(id).data('mode', mode);
  }

  private filtered = false;

  applyFilters(model: MapModel, f: Filters): void {
    const cy = this.cy;
    const active = !!f.namespaces || f.verdicts.size < 3 || !!f.search;
    // Nothing to hide or fade, and nothing hidden or faded yet: skip the walk.
    if (!active && !this.filtered) return;
    this.filtered = active;
    cy.batch(() => {
      const visible = new Set<string>();
      for (const n of model.nodes.values()) {
        const el = cy.getElementById(n.id);
        const show = model.nodeVisible(n, f);
        el.toggleClass('hidden', !show);
        if (show) visible.add(n.id);
        const match = model.matchesSearch(n, f.search);
        el.toggleClass('match', match);
        el.toggleClass('faded', !!f.search && !match);
      }
      for (const d of this.drawn.values()) {
        const el = cy.getElementById(d.key);
        const show = f.verdicts.has(d.verdict) && visible.has(d.source) && visible.has(d.destination);
        el.toggleClass('hidden', !show);
        el.toggleClass('faded', !!f.search && !(model.matchesSearch(model.nodes.get(d.source)!, f.search) || model.matchesSearch(model.nodes.get(d.destination)!, f.search)));
      }
      // A box or frame with nothing visible inside is hidden with its content.
      cy.nodes('.frame').forEach((fr) => {
        const ns = fr.id().slice('frame:'.length);
        fr.toggleClass('hidden', !!f.namespaces && !f.namespaces.has(ns));
      });
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

function edgeLabel(d: DrawnEdge): string {
  return portLabel(d.protocol, d.port);
}

function edgeElement(d: DrawnEdge): ElementDefinition {
  return {
    group: 'edges',
    data: { id: d.key, source: d.source, target: d.destination, verdict: d.verdict, label: edgeLabel(d) },
  };
}
