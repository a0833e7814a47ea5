// Synthetic graphs for the benchmark only (the tests use the demo's real kernel flows):
// workloads reported through the agent channel and flow records through the ingest API,
// exactly as an agent would send them.

function rng(seed) {
  let s = seed >>> 0;
  return () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32; };
}

export function synthetic({ workloads, edges, namespaces = 20, seed = 7 }) {
  const rand = rng(seed);
  const ws = [];
  for (let i = 0; i < workloads; i++) {
    const ns = `ns-${i % namespaces}`;
    const app = `app-${Math.floor(i / namespaces) % 12}`;
    ws.push({
      id: `${ns}/w-${i}`,
      labels: { app },
      namespace_labels: { 'kubernetes.io/metadata.name': ns },
      ips: [`10.${100 + Math.floor(i / 65000)}.${Math.floor(i / 250) % 256}.${(i % 250) + 2}`],
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      node: null,
    });
  }
  const now = Date.now();
  const verdicts = ['allowed', 'allowed', 'allowed', 'allowed', 'denied', 'would-deny'];
  const seen = new Set();
  const records = [];
  while (records.length < edges) {
    // Mostly within a namespace, as real applications talk.
    const a = Math.floor(rand() * workloads);
    const b = rand() < 0.7 ? (a + namespaces * (1 + Math.floor(rand() * 8))) % workloads : Math.floor(rand() * workloads);
    const port = [80, 443, 5432, 6379, 8080][Math.floor(rand() * 5)];
    const key = `${a}|${b}|${port}`;
    if (a === b || seen.has(key)) continue;
    seen.add(key);
    const t = new Date(now - Math.floor(rand() * 600_000)).toISOString();
    records.push({
      source: ws[a].id, destination: ws[b].id, protocol: 'TCP', port,
      verdict: verdicts[Math.floor(rand() * verdicts.length)], rule: null,
      packets: 10, bytes: 1000, connections: 1, first_seen: t, last_seen: t,
    });
  }
  return { workloads: ws, records };
}

async function call(url, token, method, path, body) {
  const r = await fetch(url + path, { method, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
  return r.json();
}

/** Reports the workloads as node `bench` and ships the records in batches. */
export async function load(server, g) {
  await call(server.url, server.token, 'PUT', '/api/v1/agents/bench', { workloads: g.workloads, cluster_cidrs: ['10.0.0.0/8'], host_ips: [], status: { revision: null, backend: 'nft' } });
  for (let i = 0; i < g.records.length; i += 5000) {
    await call(server.url, server.token, 'POST', '/api/v1/agents/bench/flows', { records: g.records.slice(i, i + 5000) });
  }
}
