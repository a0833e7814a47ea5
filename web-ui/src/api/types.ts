// The JSON types of Bulkhead's API, mirrored from the Rust crate `bulkhead-api`
// (crates/api/src). The UI consumes nothing else: every field here has a Rust twin with
// the same name and meaning; keep them in step when the crate changes.

export type Verdict = 'allowed' | 'denied' | 'would-deny';
export const VERDICTS: Verdict[] = ['allowed', 'denied', 'would-deny'];
export type Mode = 'learn' | 'monitor' | 'enforce';
export const MODES: Mode[] = ['learn', 'monitor', 'enforce'];
export type Role = 'admin' | 'read-only' | 'agent';
/** `TCP`, `UDP`, `SCTP`, `ICMP`, or a decimal protocol number. */
export type IpProtocol = string;
/** RFC 3339 UTC. */
export type Timestamp = string;
export type Labels = Record<string, string>;

export interface Health { status: string; version: string; revision: number }
export interface Session { name: string; role: Role }
export interface ErrorBody { error: string; details?: string[] }

export interface NamedPort { name: string | null; port: number; protocol: 'TCP' | 'UDP' | 'SCTP' }

export interface WorkloadInfo {
  id: string;
  labels: Labels;
  namespace_labels: Labels;
  ips: string[];
  ports: NamedPort[];
  node: string | null;
  mode: Mode;
  last_seen: Timestamp | null;
}

export interface SetMode { mode: Mode }
export interface Revision { revision: number }

export interface FlowRecord {
  source: string;
  destination: string;
  protocol: IpProtocol;
  port: number;
  verdict: Verdict;
  rule: string | null;
  packets: number;
  bytes: number;
  connections: number;
  first_seen: Timestamp;
  last_seen: Timestamp;
  node: string | null;
}

export interface FlowPage { records: FlowRecord[]; next_cursor?: number | null }

export interface GraphNode {
  id: string;
  kind: 'workload' | 'external';
  namespace: string | null;
  app: string | null;
  group: string;
  labels: Labels;
  node: string | null;
  mode: Mode | null;
  live: boolean;
}

export interface GraphGroup { id: string; label: string; parent: string | null }

export interface GraphEdge {
  id: number;
  source: string;
  destination: string;
  protocol: IpProtocol;
  port: number;
  verdict: Verdict;
  rule: string | null;
  packets: number;
  bytes: number;
  connections: number;
  first_seen: Timestamp;
  last_seen: Timestamp;
}

export interface Graph { nodes: GraphNode[]; edges: GraphEdge[]; groups: GraphGroup[] }

export type PolicyKind = 'kubernetes' | 'native';

export interface PolicyInfo {
  name: string;
  kind: PolicyKind;
  version: number;
  source: string;
  file: string;
  created_at: Timestamp;
  updated_at: Timestamp;
  author: string;
}

export interface SelectingPolicy { name: string; kind: PolicyKind; ingress: boolean; egress: boolean }

export interface PolicyFile { name: string; text: string }
export interface ApplyRequest { files: PolicyFile[]; dry_run?: boolean }
export interface PolicyChange { name: string; change: 'created' | 'updated' | 'unchanged' | 'deleted'; version: number }
export interface ChangeResult { revision: number; policies: PolicyChange[] }
export interface ReplayRequest { files: PolicyFile[]; since?: string; workload?: string }
export interface ReplayResult { denied: FlowRecord[]; evaluated: number; unresolved: number }

export interface AgentStatus {
  revision: number | null;
  backend: string;
  version?: string | null;
  lost_events?: number;
  dropped_records?: number;
  error?: string | null;
}

/** What `GET /api/v1/events` sends; the SSE event name is `type`. */
export type ApiEvent =
  | { type: 'flows'; node: string; records: FlowRecord[] }
  | { type: 'edges'; edges: GraphEdge[] }
  | { type: 'policies'; revision: number; changes: PolicyChange[] }
  | { type: 'mode'; revision: number; workload: string; mode: Mode }
  | { type: 'workloads'; revision: number; node: string }
  | { type: 'agent'; node: string; status: AgentStatus }
  | { type: 'lagged'; missed: number };

/** `POST /api/v1/baseline` (crates/api/src/learn.rs; the data is bulkhead_policy::baseline). */
export interface BaselineRequest { workloads?: string[]; since?: string; until?: string; format?: PolicyKind; outside_prefix?: number }
/** Unix milliseconds. */
export interface Evidence { flows: number; first_seen: number; last_seen: number }
export type LearnedPeer =
  | { kind: 'workloads'; namespace: string; labels: Labels }
  | { kind: 'host' }
  | { kind: 'cidr'; cidr: string };
export interface LearnedPort { protocol: string; port: number }
export interface LearnedRule { peer: LearnedPeer; ports: LearnedPort[]; evidence: Evidence }
export interface LearnedPolicy {
  name: string;
  namespace: string;
  selector: Labels;
  members: string[];
  ingress: LearnedRule[];
  egress: LearnedRule[];
}
export interface Skipped { source: string; destination: string; protocol: number; port: number; flows: number; reason: string }
export interface Baseline { policies: LearnedPolicy[]; skipped: Skipped[] }
export interface BaselineResult { format: PolicyKind; yaml: string; baseline: Baseline; edges: number; denied_edges: number }
