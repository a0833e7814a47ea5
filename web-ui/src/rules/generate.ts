// Policies written from the map: pure functions from what the UI knows (workloads, the
// drawn edges) to native `bulkhead.dev/v1` documents. Strings are written as JSON
// scalars, which YAML reads verbatim, so no label value can break the document.

import type { Labels, WorkloadInfo } from '../api/types';

export interface Endpoint {
  /** A workload, or null for an address outside the inventory. */
  workload: WorkloadInfo | null;
  /** The workload id or the address. */
  id: string;
}

export interface PortRef { protocol: string; port: number }

const q = (s: string) => JSON.stringify(s);

/** A DNS-subdomain policy name from free parts: lower case, `-` for anything else. */
export function policyName(...parts: string[]): string {
  const s = parts
    .join('-')
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '');
  return s.slice(0, 63).replace(/-$/, '') || 'rule';
}

function labels(l: Labels, indent: string): string {
  const keys = Object.keys(l).sort();
  if (keys.length === 0) return '{}';
  return `\n${indent}matchLabels: {${keys.map((k) => `${q(k)}: ${q(l[k])}`).join(', ')}}`;
}

/** The peer that matches `e`: its namespace and labels, or its address. */
export function peer(e: Endpoint, indent: string): string {
  if (!e.workload) return `${indent}- cidr: ${q(`${e.id}/32`)}`;
  const ns = e.workload.id.slice(0, e.workload.id.indexOf('/'));
  return (
    `${indent}- namespaceSelector:\n${indent}    matchLabels: {"kubernetes.io/metadata.name": ${q(ns)}}\n` +
    `${indent}  selector: ${labels(e.workload.labels, indent + '    ')}`
  );
}

function portList(ports: PortRef[], indent: string): string {
  return ports.map((p) => `${indent}- {port: ${p.port}, protocol: ${p.protocol}}`).join('\n');
}

function header(name: string, subject: WorkloadInfo, comment: string): string {
  const ns = subject.id.slice(0, subject.id.indexOf('/'));
  return (
    `# ${comment}\n` +
    `apiVersion: bulkhead.dev/v1\nkind: Policy\nmetadata:\n  name: ${name}\n  namespace: ${ns}\n` +
    `spec:\n  selector: ${labels(subject.labels, '    ')}\n`
  );
}

/**
 * Blocks `source` → `destination` on one port, on the destination's ingress. A policy
 * with a deny rule isolates the workloads it selects, so when no other policy isolates
 * the destination's ingress yet, an allow-everything rule keeps the rest open (deny
 * beats allow, so the blocked flow stays blocked). `isolated`: whether a stored policy
 * already isolates it.
 */
export function blockEdge(source: Endpoint, destination: WorkloadInfo, port: PortRef, isolated: boolean): { name: string; yaml: string } {
  const dname = destination.id.slice(destination.id.indexOf('/') + 1);
  const sname = source.id.slice(source.id.indexOf('/') + 1);
  const name = policyName('block', sname, 'to', dname, String(port.port), port.protocol);
  let yaml = header(name, destination, `Blocks ${source.id} -> ${destination.id} on ${port.port}/${port.protocol} (written from the map).`);
  yaml += `  ingress:\n    - action: deny\n      from:\n${peer(source, '        ')}\n      ports:\n${portList([port], '        ')}\n`;
  if (!isolated) {
    yaml += '    # Nothing else isolates this workload: everything not denied above stays allowed.\n    - action: allow\n';
  }
  return { name, yaml };
}

export interface PeerFlows { peer: Endpoint; ports: PortRef[] }

/**
 * Allows exactly the peers `subject` talks to now: one allow rule per peer with its
 * ports, for ingress (who calls it) and egress (whom it calls). A direction without
 * peers is written `[]`: nothing in, or nothing out.
 */
export function allowCurrentPeers(subject: WorkloadInfo, inbound: PeerFlows[], outbound: PeerFlows[]): { name: string; yaml: string } {
  const sname = subject.id.slice(subject.id.indexOf('/') + 1);
  const name = policyName(sname, 'current-peers');
  let yaml = header(name, subject, `Allows only the peers ${subject.id} talked to when this was written (written from the map).`);
  const dir = (key: 'ingress' | 'egress', peers: PeerFlows[]) => {
    if (peers.length === 0) return `  ${key}: []\n`;
    let s = `  ${key}:\n`;
    for (const p of peers) {
      s += `    - action: allow\n      ${key === 'ingress' ? 'from' : 'to'}:\n${peer(p.peer, '        ')}\n      ports:\n${portList(p.ports, '        ')}\n`;
    }
    return s;
  };
  yaml += dir('ingress', inbound) + dir('egress', outbound);
  return { name, yaml };
}

export interface FormRule {
  name: string;
  subject: WorkloadInfo;
  direction: 'ingress' | 'egress';
  action: 'allow' | 'deny';
  peer: { kind: 'workload'; workload: WorkloadInfo } | { kind: 'cidr'; cidr: string } | { kind: 'entity'; entity: 'world' | 'host' } | { kind: 'any' };
  port: PortRef | null;
}

/** The rule form's policy: one rule, in one direction, of one workload. */
export function formPolicy(r: FormRule): string {
  let yaml = header(r.name, r.subject, `Written with the rule form of the map.`);
  yaml += `  ${r.direction}:\n    - action: ${r.action}\n`;
  const key = r.direction === 'ingress' ? 'from' : 'to';
  const p = r.peer;
  if (p.kind === 'workload') yaml += `      ${key}:\n${peer({ workload: p.workload, id: p.workload.id }, '        ')}\n`;
  if (p.kind === 'cidr') yaml += `      ${key}:\n        - cidr: ${q(p.cidr)}\n`;
  if (p.kind === 'entity') yaml += `      ${key}:\n        - entity: ${p.entity}\n`;
  if (r.port) yaml += `      ports:\n${portList([r.port], '        ')}\n`;
  return yaml;
}
