// Grouped connections: until the user zooms in or expands a group, a connection is drawn
// between the largest groups that still tell its two ends apart: namespace to namespace
// across namespaces, app box to app box inside one, workload to workload inside an app.
// Every connection stays on the map as part of exactly one bundle, and a bundle takes
// the strictest verdict among its members, so one denied connection in a thousand still
// turns its bundle red. Pure: data in, data out (the view draws the result).

import type { GraphGroup, GraphNode, Verdict } from '../api/types';
import type { DrawnEdge } from './model';
import { RANK } from './model';

export interface Bundle {
  key: string;
  /** Group ids (or a workload id when that end is expanded); the ends in either direction. */
  source: string;
  target: string;
  verdict: Verdict;
  members: DrawnEdge[];
}

export interface Grouped {
  /** Connections drawn as themselves (both ends expanded, or inside one app). */
  edges: DrawnEdge[];
  bundles: Bundle[];
}

/** A node's groups, innermost first: `[app:x/a, ns:x]`, `[ns:x]` or `[external]`. */
function chain(n: GraphNode, groups: Map<string, GraphGroup>, memo: Map<string, string[]>): string[] {
  const hit = memo.get(n.group);
  if (hit) return hit;
  const out: string[] = [];
  for (let g: string | null | undefined = n.group; g && out.length < 8; g = groups.get(g)?.parent) out.push(g);
  memo.set(n.group, out);
  return out;
}

/** Which groups are open (drawn in detail), and which closed ones hide their members. */
export interface Detail {
  open(group: string): boolean;
  /** A closed group of this kind draws no member nodes (a large map's app boxes). */
  collapsed(group: string): boolean;
}

/**
 * Where one end of a connection is drawn: the end itself when one of its groups is
 * open, else its outermost group that does not also hold the other end; inside one
 * collapsed box, the box (the connection becomes a loop on it).
 */
function end(own: string[], other: string[], id: string, d: Detail): string {
  if (own.some((g) => d.open(g))) return id;
  for (let i = own.length - 1; i >= 0; i--) if (!other.includes(own[i])) return own[i];
  if (own.length > 0 && d.collapsed(own[0])) return own[0];
  return id;
}

export function group(
  edges: Iterable<DrawnEdge>,
  nodes: Map<string, GraphNode>,
  groups: Map<string, GraphGroup>,
  detail: Detail,
): Grouped {
  const memo = new Map<string, string[]>();
  const out: Grouped = { edges: [], bundles: [] };
  const byKey = new Map<string, Bundle>();
  for (const d of edges) {
    const s = nodes.get(d.source);
    const t = nodes.get(d.destination);
    // An end the graph does not know (a reload is on its way) is drawn as itself.
    const sc = s ? chain(s, groups, memo) : [];
    const tc = t ? chain(t, groups, memo) : [];
    const a = end(sc, tc, d.source, detail);
    const b = end(tc, sc, d.destination, detail);
    if (a === d.source && b === d.destination) {
      out.edges.push(d);
      continue;
    }
    // Both directions share a bundle: a large map draws no arrows, and half the
    // bundles is half the drawing; the panel lists each flow with its direction.
    const [p, q] = a < b ? [a, b] : [b, a];
    const key = `b:${p}<>${q}`;
    const x = byKey.get(key);
    if (!x) {
      const bundle: Bundle = { key, source: p, target: q, verdict: d.verdict, members: [d] };
      byKey.set(key, bundle);
      out.bundles.push(bundle);
    } else {
      x.members.push(d);
      if (RANK[d.verdict] > RANK[x.verdict]) x.verdict = d.verdict;
    }
  }
  return out;
}

/** The groups to expand so that a bundle's members are drawn as themselves. */
export function groupsOf(b: Bundle, nodes: Map<string, GraphNode>): Set<string> {
  const out = new Set<string>();
  for (const d of b.members) {
    for (const id of [d.source, d.destination]) {
      const n = nodes.get(id);
      if (n) out.add(n.group);
    }
  }
  return out;
}
