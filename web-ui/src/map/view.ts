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
    });
    this.cy.on('tap', 'node', (e) => {
      const n = e.target;
      if (!n.isParent()) h.onNode(n.id());
    });
    this.cy.on('tap', 'edge', (e) => h.onEdge(e.target.id()));
    this.cy.on('tap', (e) => { if (e.target === this.cy) h.onClear(); });
  }

  edge(key: string): DrawnEdge | undefined { return this.drawn.get(key); }

  /** Replaces everything; lays out again unless the same nodes are already placed. */
  async render(model: MapModel, f: Filters): Promise<void> {
    const drawn = model.drawn(f.windowMs);
    const big = drawn.size > BIG_EDGES;
    if (big !== this.big) {
      this.big = big;
      this.cy.style(stylesheet(big));
    }
    const known = new Set(this.cy.nodes().map((n) => n.id()));
    const wanted = [...model.groups.keys(), ...model.nodes.keys()];
    const sameNodes = wanted.length === known.size && wanted.every((id) => known.has(id));
    const positions = new Map(this.cy.nodes().map((n) => [n.id(), { ...n.position() }]));
    const els: ElementDefinition[] = [];
    for (const g of model.groups.values()) {
      els.push({ group: 'nodes', data: { id: g.id, label: g.label, parent: g.parent ?? undefined }, classes: g.id.startsWith('app:') ? 'app' : 'ns' });
    }
    for (const n of model.nodes.values()) {
      const label = n.kind === 'external' ? n.id : n.id.slice(n.id.indexOf('/') + 1);
      els.push({
        group: 'nodes',
        data: { id: n.id, label, parent: model.groups.has(n.group) ? n.group : undefined, mode: n.mode ?? 'none', live: n.live, ns: n.namespace ?? '(external)' },
        classes: n.kind,
        position: sameNodes ? positions.get(n.id) : undefined,
      });
    }
    for (const d of drawn.values()) els.push(edgeElement(d));
    this.cy.batch(() => {
      this.cy.elements().remove();
      this.cy.add(els);
    });
    this.drawn = drawn;
    this.applyFilters(model, f);
    if (!sameNodes) await this.layout();
  }

  private layout(): Promise<void> {
    const n = this.cy.nodes().length;
    const layout = this.cy.layout({
      name: 'fcose',
      quality: n > 400 ? 'draft' : 'default',
      animate: false, randomize: true, nodeDimensionsIncludeLabels: n <= 400,
      packComponents: true, nodeSeparation: 60, idealEdgeLength: 90, nestingFactor: 0.3,
      numIter: n > 400 ? 600 : 2500,
    } as cytoscape.LayoutOptions);
    const done = new Promise<void>((resolve) => layout.one('layoutstop', () => resolve()));
    layout.run();
    return done.then(() => { this.cy.fit(undefined, 30); });
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

  applyFilters(model: MapModel, f: Filters): void {
    const cy = this.cy;
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
      // A box with nothing visible inside is hidden with its content.
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
