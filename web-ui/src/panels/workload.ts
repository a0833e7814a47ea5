// The workload panel: identity, mode switch, the policies that select it, its flows,
// and the rules that start from it (allow only current peers, the rule form).

import type { App } from '../app';
import { ApiError } from '../api/client';
import { MODES } from '../api/types';
import type { FlowRecord, Mode, WorkloadInfo } from '../api/types';
import { ago, clear, h, toast } from '../dom';
import { portLabel } from '../map/model';
import { openEditor } from '../rules/editor';
import { allowCurrentPeers } from '../rules/generate';
import type { PeerFlows } from '../rules/generate';
import { openForm } from '../rules/form';

export function flowTable(records: FlowRecord[]): HTMLElement {
  const rows = records.map((r) =>
    h('tr', { class: `flow ${r.verdict}` },
      h('td', {}, r.source), h('td', {}, r.destination), h('td', {}, portLabel(r.protocol, r.port)),
      h('td', { class: `verdict ${r.verdict}` }, r.verdict), h('td', { class: 'rule' }, r.rule ?? '—'),
      h('td', {}, String(r.connections)), h('td', {}, ago(r.last_seen))));
  return h('table', { class: 'flows' },
    h('thead', {}, h('tr', {}, ...['source', 'destination', 'port', 'verdict', 'deciding rule', 'conns', 'last'].map((t) => h('th', {}, t)))),
    h('tbody', {}, ...rows));
}

export async function showWorkload(app: App, panel: HTMLElement, id: string): Promise<void> {
  clear(panel);
  const node = app.model.nodes.get(id);
  panel.append(h('h2', { id: 'panel-title' }, id));
  if (!node || node.kind === 'external') {
    panel.append(h('p', {}, 'An address outside the inventory.'));
    const flows = await app.client.flows({ workload: id, limit: '500' });
    panel.append(h('h3', {}, 'Flows'), flowTable(flows.records));
    return;
  }
  let w: WorkloadInfo;
  try {
    w = await app.client.workload(id);
  } catch (e) {
    panel.append(h('p', { class: 'error' }, (e as ApiError).message));
    return;
  }
  const labels = Object.entries(w.labels).map(([k, v]) => h('span', { class: 'chip' }, `${k}=${v}`));
  panel.append(
    h('div', { class: 'kv' }, h('span', {}, 'addresses'), h('span', {}, w.ips.join(', ') || '—')),
    h('div', { class: 'kv' }, h('span', {}, 'ports'), h('span', {}, w.ports.map((p) => `${p.name ? p.name + ' ' : ''}${portLabel(p.protocol, p.port)}`).join(', ') || '—')),
    h('div', { class: 'kv' }, h('span', {}, 'node'), h('span', {}, w.node ?? '—')),
    h('div', { class: 'chips' }, ...labels),
  );

  const mode = h('select', { id: 'mode-select', disabled: !app.canWrite() }, ...MODES.map((m) => {
    const o = h('option', { value: m }, m) as HTMLOptionElement;
    o.selected = m === w.mode;
    return o;
  })) as HTMLSelectElement;
  mode.addEventListener('change', async () => {
    try {
      const r = await app.client.setMode(id, mode.value as Mode);
      toast(`${id} is now in ${mode.value} mode (revision ${r.revision}).`);
    } catch (e) {
      toast(`Mode not changed: ${(e as ApiError).message}`, 'error');
      mode.value = w.mode;
    }
  });
  panel.append(h('div', { class: 'kv' }, h('label', { for: 'mode-select' }, 'mode'), mode));

  const actions = h('div', { class: 'row' },
    h('button', { id: 'btn-current-peers', disabled: !app.canWrite(), onclick: () => void lockToPeers(app, w) }, 'Allow only current peers'),
    h('button', { id: 'btn-rule-form', disabled: !app.canWrite(), onclick: () => openForm(app, w) }, 'New rule…'));
  panel.append(actions);

  const pols = h('ul', { id: 'selecting-policies' });
  panel.append(h('h3', {}, 'Policies selecting it'), pols);
  const flowsBox = h('div', { id: 'workload-flows' }, 'Loading…');
  panel.append(h('h3', {}, 'Flows'), flowsBox);
  const [selecting, flows, stored] = await Promise.all([
    app.client.selecting(id), app.client.flows({ workload: id, limit: '500' }), app.client.policies(),
  ]);
  if (selecting.length === 0) pols.append(h('li', { class: 'muted' }, 'none: not isolated'));
  for (const p of selecting) {
    const dirs = [p.ingress && 'ingress', p.egress && 'egress'].filter(Boolean).join(' + ') || 'no direction';
    const src = stored.find((s) => s.name === p.name);
    const details = h('details', {}, h('summary', {}, `${p.name} (${p.kind}, isolates ${dirs})`), h('pre', {}, src?.source ?? ''));
    pols.append(h('li', {}, details));
  }
  clear(flowsBox);
  flowsBox.append(flowTable(flows.records.sort((a, b) => b.last_seen.localeCompare(a.last_seen))));
}

/** Groups the allowed flows of `w` by peer: who calls it on which ports, whom it calls. */
function currentPeers(app: App, w: WorkloadInfo): { inbound: PeerFlows[]; outbound: PeerFlows[] } {
  const inbound = new Map<string, PeerFlows>();
  const outbound = new Map<string, PeerFlows>();
  const drawn = app.model.drawn(app.filters.windowMs);
  for (const d of drawn.values()) {
    if (!d.records.some((r) => r.verdict === 'allowed')) continue;
    if (d.source === d.destination || !['TCP', 'UDP', 'SCTP'].includes(d.protocol)) continue;
    const side = d.destination === w.id ? inbound : d.source === w.id ? outbound : null;
    if (!side) continue;
    const other = d.destination === w.id ? d.source : d.destination;
    const entry = side.get(other) ?? { peer: { id: other, workload: app.workloads.get(other) ?? null }, ports: [] };
    if (!entry.ports.some((p) => p.port === d.port && p.protocol === d.protocol)) entry.ports.push({ protocol: d.protocol, port: d.port });
    side.set(other, entry);
  }
  const sorted = (m: Map<string, PeerFlows>) => [...m.values()].sort((a, b) => a.peer.id.localeCompare(b.peer.id));
  return { inbound: sorted(inbound), outbound: sorted(outbound) };
}

function lockToPeers(app: App, w: WorkloadInfo): void {
  const { inbound, outbound } = currentPeers(app, w);
  const { name, yaml } = allowCurrentPeers(w, inbound, outbound);
  openEditor(app.client, `Allow only the current peers of ${w.id}`, `ui/${name}.yaml`, yaml, () => void app.reload());
}
