// The rule form: one rule for one workload, in plain fields, turned into YAML that the
// editor previews and saves.

import type { App } from '../app';
import type { WorkloadInfo } from '../api/types';
import { clear, h, toast } from '../dom';
import { openEditor } from './editor';
import { formPolicy, policyName } from './generate';
import type { FormRule } from './generate';

export function openForm(app: App, subject: WorkloadInfo): void {
  const dialog = document.getElementById('editor') as HTMLDialogElement;
  clear(dialog);
  const others = [...app.workloads.values()].filter((w) => w.id !== subject.id).sort((a, b) => a.id.localeCompare(b.id));
  const direction = h('select', { id: 'form-direction' }, h('option', { value: 'ingress' }, 'ingress (who may call it)'), h('option', { value: 'egress' }, 'egress (whom it may call)')) as HTMLSelectElement;
  const action = h('select', { id: 'form-action' }, h('option', { value: 'deny' }, 'deny'), h('option', { value: 'allow' }, 'allow')) as HTMLSelectElement;
  const peer = h('select', { id: 'form-peer' },
    h('option', { value: 'any' }, 'any peer'), h('option', { value: 'entity:world' }, 'world (outside the cluster)'), h('option', { value: 'entity:host' }, 'host (the node)'),
    h('option', { value: 'cidr' }, 'an address range…'),
    ...others.map((w) => h('option', { value: `wl:${w.id}` }, w.id))) as HTMLSelectElement;
  const cidr = h('input', { id: 'form-cidr', placeholder: '10.0.0.0/8' }) as HTMLInputElement;
  const port = h('input', { id: 'form-port', type: 'number', min: 1, max: 65535, placeholder: 'all ports' }) as HTMLInputElement;
  const protocol = h('select', { id: 'form-protocol' }, ...['TCP', 'UDP', 'SCTP'].map((p) => h('option', { value: p }, p))) as HTMLSelectElement;
  const name = h('input', { id: 'form-name', value: policyName(subject.id.split('/')[1], 'rule') }) as HTMLInputElement;
  const next = () => {
    const p = peer.value;
    let peerSpec: FormRule['peer'] = { kind: 'any' };
    if (p.startsWith('wl:')) peerSpec = { kind: 'workload', workload: app.workloads.get(p.slice(3))! };
    else if (p.startsWith('entity:')) peerSpec = { kind: 'entity', entity: p.slice(7) as 'world' | 'host' };
    else if (p === 'cidr') {
      if (!cidr.value.trim()) return toast('Give an address range (CIDR).', 'error');
      peerSpec = { kind: 'cidr', cidr: cidr.value.trim() };
    }
    const n = Number(port.value);
    const yaml = formPolicy({
      name: policyName(name.value), subject, direction: direction.value as 'ingress' | 'egress',
      action: action.value as 'allow' | 'deny', peer: peerSpec,
      port: port.value ? { port: n, protocol: protocol.value } : null,
    });
    dialog.close();
    openEditor(app.client, `New rule for ${subject.id}`, `ui/${policyName(name.value)}.yaml`, yaml, () => void app.reload());
  };
  const field = (label: string, el: HTMLElement) => h('label', { class: 'field' }, h('span', {}, label), el);
  dialog.append(
    h('h2', {}, `New rule for ${subject.id}`),
    h('p', { class: 'muted' }, 'A policy with a rule isolates the workload in that direction: only what its allow rules (and other policies) allow passes. The next step previews what it would deny.'),
    field('policy name', name), field('direction', direction), field('action', action), field('peer', peer),
    field('address range', cidr), field('port', port), field('protocol', protocol),
    h('div', { class: 'row' }, h('button', { id: 'form-next', class: 'primary', onclick: next }, 'Preview…'), h('button', { onclick: () => dialog.close() }, 'Cancel')),
  );
  dialog.showModal();
}
