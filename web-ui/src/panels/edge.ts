// The edge panel: one connection (source, destination, port), every flow record behind
// it with the rule that decided its verdict, and "block this edge".

import type { App } from '../app';
import type { ApiError } from '../api/client';
import { clear, h, toast } from '../dom';
import { portLabel } from '../map/model';
import { openEditor } from '../rules/editor';
import { blockEdge } from '../rules/generate';
import { flowTable } from './workload';

export function showEdge(app: App, panel: HTMLElement, key: string): void {
  clear(panel);
  const d = app.view.edge(key);
  if (!d) {
    panel.append(h('p', { class: 'muted' }, 'This connection is no longer on the map.'));
    return;
  }
  panel.append(
    h('h2', { id: 'panel-title' }, `${d.source} → ${d.destination}`),
    h('div', { class: 'kv' }, h('span', {}, 'port'), h('span', {}, portLabel(d.protocol, d.port))),
    h('div', { class: 'kv' }, h('span', {}, 'verdict now'), h('span', { id: 'edge-verdict', class: `verdict ${d.verdict}` }, d.verdict)),
  );
  const dst = app.workloads.get(d.destination);
  const portable = ['TCP', 'UDP', 'SCTP'].includes(d.protocol);
  const block = h('button', { id: 'btn-block-edge', class: 'danger', disabled: !app.canWrite() || !dst || !portable }, 'Block this edge') as HTMLButtonElement;
  if (!dst) block.title = 'The destination is outside the inventory: write an egress rule on the source instead.';
  block.addEventListener('click', async () => {
    if (!dst) return;
    try {
      const isolated = (await app.client.selecting(dst.id)).some((p) => p.ingress);
      const src = { id: d.source, workload: app.workloads.get(d.source) ?? null };
      const { name, yaml } = blockEdge(src, dst, { protocol: d.protocol, port: d.port }, isolated);
      openEditor(app.client, `Block ${d.source} → ${d.destination} on ${portLabel(d.protocol, d.port)}`, `ui/${name}.yaml`, yaml, () => void app.reload());
    } catch (e) {
      toast((e as ApiError).message, 'error');
    }
  });
  panel.append(h('div', { class: 'row' }, block));
  const records = [...d.records].sort((a, b) => b.last_seen.localeCompare(a.last_seen)).map((r) => ({ ...r, node: null }));
  panel.append(h('h3', {}, 'Flows (each with its deciding rule)'), flowTable(records));
}
