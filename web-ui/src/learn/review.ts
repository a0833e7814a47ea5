// Auto-learning, step two: review the proposed baseline as a diff against the policies
// in force, each rule with its evidence (and a tick to leave it out), preview it against
// the recorded flows (replay: what it would newly deny, with the deciding rule), then
// apply it: store the policies and switch the learning workloads to enforce.

import type { App } from '../app';
import type { ApiError } from '../api/client';
import type { BaselineResult, LearnedPeer, LearnedPolicy, LearnedRule, PolicyInfo } from '../api/types';
import { clear, h, toast } from '../dom';
import { portLabel } from '../map/model';
import { preview } from '../rules/editor';
import { lineDiff, ruleKey, stripComments, withExclusions } from './yaml';
import type { Direction, Excluded } from './yaml';

export function peerText(p: LearnedPeer): string {
  if (p.kind === 'host') return 'the node (host)';
  if (p.kind === 'cidr') return p.cidr;
  const labels = Object.entries(p.labels).map(([k, v]) => `${k}=${v}`).join(',');
  return `${p.namespace} ${labels}`;
}

const when = (ms: number) => new Date(ms).toISOString().replace('T', ' ').slice(0, 19);

function ruleRow(p: LearnedPolicy, dir: Direction, i: number, r: LearnedRule, excluded: Excluded, changed: () => void): HTMLElement {
  const key = ruleKey(p.name, dir, i);
  const keep = h('input', { type: 'checkbox', checked: true, 'data-key': key, 'data-peer': peerText(r.peer) }) as HTMLInputElement;
  keep.addEventListener('change', () => { keep.checked ? excluded.delete(key) : excluded.add(key); changed(); });
  return h('tr', { class: 'learn-rule' },
    h('td', {}, keep), h('td', {}, dir === 'ingress' ? 'from' : 'to'), h('td', { class: 'peer' }, peerText(r.peer)),
    h('td', {}, r.ports.map((x) => portLabel(x.protocol, x.port)).join(', ')),
    h('td', { class: 'evidence' }, String(r.evidence.flows)), h('td', {}, when(r.evidence.first_seen)), h('td', {}, when(r.evidence.last_seen)));
}

function diffView(before: string | null, after: string): HTMLElement {
  const lines = before === null ? after.split('\n').map((text) => ({ op: '+' as const, text })) : lineDiff(before, after);
  return h('pre', { class: 'diff' }, ...lines.map((l) => h('div', { class: `d${l.op === '+' ? 'add' : l.op === '-' ? 'del' : 'same'}` }, `${l.op} ${l.text}`)));
}

/** The workloads learned for, and the window learned from (the preview replays the same). */
export interface Scope { ids: string[]; since?: string }

export async function showReview(app: App, box: HTMLElement, result: BaselineResult, scope: Scope, done: () => void): Promise<void> {
  const { ids, since } = scope;
  const stored = await app.client.policies();
  const byName = new Map<string, PolicyInfo>(stored.map((p) => [p.name, p]));
  // What else stays in force on these workloads: stored policies the baseline does not replace.
  const qualified = (p: LearnedPolicy) => `${p.namespace}/${p.name}`;
  const learnedNames = new Set(result.baseline.policies.map(qualified));
  const kept = new Set<string>();
  for (const id of ids) for (const s of await app.client.selecting(id)) if (!learnedNames.has(s.name)) kept.add(s.name);

  clear(box);
  const excluded: Excluded = new Set();
  const nsList = [...new Set(ids.map((id) => id.split('/')[0]))].join('-');
  const fileName = `baseline/${nsList}.yaml`;
  const b = result.baseline;
  box.append(h('p', { id: 'learn-summary' },
    `${b.policies.length} polic${b.policies.length === 1 ? 'y' : 'ies'} learned from ${result.edges} recorded connection(s); ${result.denied_edges} denied one(s) left out (denied traffic never arrived).`));
  if (b.policies.length === 0) return void box.append(h('p', { class: 'warn' }, 'Nothing was learned: let the workloads work in learn mode, then propose again.'));
  box.append(h('p', { class: 'muted' }, kept.size > 0
    ? `Also in force on these workloads, and kept: ${[...kept].sort().join(', ')}.`
    : 'No other stored policy selects these workloads.'));

  const skippedWhy = new Map(b.skipped.map((s) => [`${s.source}|${s.destination}|${s.port}`, s.reason]));
  const badges = new Map<string, HTMLElement>();
  const diffs = new Map<string, HTMLElement>();
  const previewBox = h('div', { id: 'learn-preview-result', class: 'preview' });
  const apply = h('button', { id: 'learn-apply', class: 'primary', disabled: true }, 'Apply and enforce') as HTMLButtonElement;
  let previewed: string | null = null;

  // Recomputed on every tick: the diff and the status show what would really be stored.
  const refresh = () => {
    const { file, policies } = withExclusions(result.yaml, excluded);
    for (const p of policies) {
      const old = byName.get(p.name);
      const before = old ? stripComments(old.source) : null;
      const status = before === null ? 'new' : before === p.text ? 'unchanged' : 'changed';
      const badge = badges.get(p.name);
      if (badge) { badge.textContent = status; badge.className = `badge ${status}`; }
      const d = diffs.get(p.name);
      if (d) { clear(d); d.append(diffView(before, p.text)); }
    }
    if (previewed !== file) { apply.disabled = true; previewed = null; clear(previewBox); }
    return file;
  };

  for (const p of b.policies) {
    const badge = h('span', { class: 'badge' });
    badges.set(qualified(p), badge);
    const diff = h('div', { class: 'learn-diff' });
    diffs.set(qualified(p), diff);
    const rows = [
      ...p.ingress.map((r, i) => ruleRow(p, 'ingress', i, r, excluded, refresh)),
      ...p.egress.map((r, i) => ruleRow(p, 'egress', i, r, excluded, refresh)),
    ];
    box.append(h('section', { class: 'learn-policy', 'data-name': qualified(p) },
      h('h3', {}, badge, ` ${qualified(p)} `, h('span', { class: 'muted' }, `for ${p.members.join(', ')}`)),
      rows.length === 0 && h('p', { class: 'warn' }, 'No traffic was learned for it in this window: applying it cuts these workloads off.'),
      h('table', { class: 'flows' },
        h('thead', {}, h('tr', {}, ...['keep', '', 'peer', 'ports', 'flows', 'first seen', 'last seen'].map((t) => h('th', {}, t)))),
        h('tbody', {}, ...rows)),
      h('details', {}, h('summary', {}, 'diff against what is stored'), diff)));
  }
  if (b.skipped.length > 0) {
    box.append(h('details', { id: 'learn-skipped' }, h('summary', {}, `${b.skipped.length} recorded flow(s) not learned`),
      h('ul', {}, ...b.skipped.map((s) => h('li', {}, `${s.source} → ${s.destination} ${s.protocol}/${s.port} (${s.flows}): ${s.reason}`)))));
  }

  const runPreview = async () => {
    const file = refresh();
    clear(previewBox);
    previewBox.append('Replaying the recorded flows…');
    try {
      const p = await preview(app.client, fileName, file, since);
      clear(previewBox);
      if (p.newlyDenied.length === 0) previewBox.append(h('p', { class: 'ok' }, 'No recorded flow would be newly denied.'));
      else {
        previewBox.append(h('p', { class: 'warn' }, `${p.newlyDenied.length} recorded flow(s) would be denied:`),
          h('table', { class: 'flows' },
            h('thead', {}, h('tr', {}, ...['source', 'destination', 'port', 'conns', 'deciding rule', 'learned?'].map((t) => h('th', {}, t)))),
            h('tbody', {}, ...p.newlyDenied.map((r) => {
              // Recorded but never learned (an ephemeral reply port, no ports...): say why.
              const why = skippedWhy.get(`${r.source}|${r.destination}|${r.port}`);
              return h('tr', { class: `would-deny-row${why ? ' skipped' : ''}`, 'data-source': r.source, 'data-destination': r.destination },
                h('td', {}, r.source), h('td', {}, r.destination), h('td', {}, portLabel(r.protocol, r.port)),
                h('td', {}, String(r.connections)), h('td', { class: 'rule' }, r.rule ?? ''), h('td', { class: 'muted' }, why ? `not learned: ${why}` : ''));
            }))));
      }
      previewed = file;
      apply.disabled = !app.canWrite();
    } catch (e) {
      clear(previewBox);
      const err = e as ApiError;
      previewBox.append(h('p', { class: 'error' }, err.message), ...(err.details ?? []).map((d) => h('pre', { class: 'error' }, d)));
    }
  };

  apply.addEventListener('click', async () => {
    const file = refresh();
    if (previewed !== file) return void runPreview();
    apply.disabled = true;
    try {
      const r = await app.client.apply({ files: [{ name: fileName, text: file }] });
      // Policies first, then enforce: a workload never enforces a half-stored baseline.
      for (const id of ids) await app.client.setMode(id, 'enforce');
      toast(`Baseline applied (revision ${r.revision}); ${ids.length} workload(s) now enforce it.`);
      done();
      void app.reload();
    } catch (e) {
      toast(`Not applied: ${(e as ApiError).message}`, 'error');
      apply.disabled = false;
    }
  });

  box.append(h('div', { class: 'row' }, h('button', { id: 'learn-preview', onclick: () => void runPreview() }, 'Preview against recorded flows'), apply), previewBox);
  refresh();
}
