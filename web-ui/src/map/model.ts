// The map's data: nodes and groups from GET /graph, edges kept as the server's records
// (one per source, destination, protocol, port, verdict, rule) and folded into one
// drawn edge per (source, destination, protocol, port). A drawn edge takes the verdict
// of its most recent record, so blocking a connection turns its edge red as soon as the
// first denied attempt is reported, while older allowed records stay in its history.

import type { Graph, GraphEdge, GraphGroup, GraphNode, Verdict } from '../api/types';

export interface DrawnEdge {
  key: string;
  source: string;
  destination: string;
  protocol: string;
  port: number;
  verdict: Verdict;
  lastSeen: number;
  records: GraphEdge[];
}

export interface Filters {
  namespaces: Set<string> | null; // null: all
  verdicts: Set<Verdict>;
  /** Milliseconds back from now; 0: all time. */
  windowMs: number;
  search: string;
}

// On equal times the stricter verdict wins: a denied attempt in the same millisecond as
// an allowed one is the news.
export const RANK: Record<Verdict, number> = { allowed: 0, 'would-deny': 1, denied: 2 };

export function edgeKey(e: { source: string; destination: string; protocol: string; port: number }): string {
  return `e:${e.source}|${e.destination}|${e.protocol}|${e.port}`;
}

export function portLabel(protocol: string, port: number): string {
  return protocol === 'TCP' ? String(port) : `${port}/${protocol.toLowerCase()}`;
}

export class MapModel {
  nodes = new Map<string, GraphNode>();
  groups = new Map<string, GraphGroup>();
  records = new Map<number, GraphEdge>();

  load(g: Graph): void {
    this.nodes = new Map(g.nodes.map((n) => [n.id, n]));
    this.groups = new Map(g.groups.map((x) => [x.id, x]));
    this.records = new Map(g.edges.map((e) => [e.id, e]));
  }

  /** Applies an `edges` event; answers whether an endpoint is unknown (reload needed). */
  upsert(edges: GraphEdge[]): boolean {
    let unknown = false;
    for (const e of edges) {
      this.records.set(e.id, e);
      if (!this.nodes.has(e.source) || !this.nodes.has(e.destination)) unknown = true;
    }
    return unknown;
  }

  /** Drawn edges passing the time window (verdict filtering is the view's business). */
  drawn(windowMs: number, now = Date.now()): Map<string, DrawnEdge> {
    const out = new Map<string, DrawnEdge>();
    const from = windowMs > 0 ? now - windowMs : -Infinity;
    for (const r of this.records.values()) {
      const t = Date.parse(r.last_seen);
      if (t < from) continue;
      const key = edgeKey(r);
      const d = out.get(key);
      if (!d) {
        out.set(key, {
          key, source: r.source, destination: r.destination, protocol: r.protocol,
          port: r.port, verdict: r.verdict, lastSeen: t, records: [r],
        });
        continue;
      }
      d.records.push(r);
      if (t > d.lastSeen || (t === d.lastSeen && RANK[r.verdict] > RANK[d.verdict])) {
        d.lastSeen = t;
        d.verdict = r.verdict;
      }
    }
    return out;
  }

  namespaces(): string[] {
    const s = new Set<string>();
    for (const n of this.nodes.values()) if (n.namespace) s.add(n.namespace);
    return [...s].sort();
  }

  /** Whether a node passes the namespace filter and the search text. */
  nodeVisible(n: GraphNode, f: Filters): boolean {
    if (f.namespaces && !f.namespaces.has(n.namespace ?? '(external)')) return false;
    return true;
  }

  matchesSearch(n: GraphNode, text: string): boolean {
    if (!text) return false;
    const t = text.toLowerCase();
    if (n.id.toLowerCase().includes(t)) return true;
    return Object.entries(n.labels).some(([k, v]) => `${k}=${v}`.toLowerCase().includes(t));
  }
}
