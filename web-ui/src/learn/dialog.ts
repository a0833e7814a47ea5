// Auto-learning from the UI, step one: choose whom to learn (a namespace, then some or
// all of its workloads), switch them to learn mode, and later ask the server for the
// baseline it learned from their recorded flows (POST /baseline stores nothing).

import type { App } from '../app';
import type { ApiError } from '../api/client';
import { clear, h, toast } from '../dom';
import { showReview } from './review';

/** When learning started, per namespace, so a baseline can use exactly that window. */
const startedKey = (ns: string) => `bulkhead.learn.${ns}`;

const WINDOWS: [string, string][] = [
  ['since learning started', 'learning'], ['last 15 min', '15m'], ['last hour', '1h'], ['last day', '24h'], ['all recorded', ''],
];

export function openLearn(app: App): void {
  const dialog = document.getElementById('learn') as HTMLDialogElement;
  clear(dialog);
  const namespaces = app.model.namespaces();
  const nsSel = h('select', { id: 'learn-ns' }, ...namespaces.map((n) => h('option', { value: n }, n))) as HTMLSelectElement;
  const members = h('div', { id: 'learn-workloads', class: 'chips' });
  const status = h('p', { id: 'learn-status', class: 'muted' });
  const windowSel = h('select', { id: 'learn-window' }, ...WINDOWS.map(([l, v]) => h('option', { value: v }, l))) as HTMLSelectElement;
  const review = h('div', { id: 'learn-review' });

  const chosen = () => [...members.querySelectorAll<HTMLInputElement>('input:checked')].map((c) => c.value);
  const showMembers = () => {
    clear(members);
    const ws = [...app.workloads.values()].filter((w) => w.id.startsWith(`${nsSel.value}/`)).sort((a, b) => a.id.localeCompare(b.id));
    for (const w of ws) {
      const cb = h('input', { type: 'checkbox', value: w.id, checked: true, class: 'learn-member' });
      members.append(h('label', { class: 'chip' }, cb, ` ${w.id} `, h('span', { class: `mode-${w.mode}` }, `(${w.mode})`)));
    }
    const started = sessionStorage.getItem(startedKey(nsSel.value));
    status.textContent = started ? `Learning since ${new Date(started).toLocaleTimeString()}.` : 'Not learning from this page yet.';
  };
  nsSel.addEventListener('change', showMembers);

  const start = h('button', { id: 'learn-start', disabled: !app.canWrite() }, 'Start learning') as HTMLButtonElement;
  start.addEventListener('click', async () => {
    const ids = chosen();
    start.disabled = true;
    try {
      // Learn mode allows everything and records it: nothing breaks while it learns.
      for (const id of ids) await app.client.setMode(id, 'learn');
      sessionStorage.setItem(startedKey(nsSel.value), new Date().toISOString());
      toast(`${ids.length} workload(s) of ${nsSel.value} are learning.`);
      for (const id of ids) { const w = app.workloads.get(id); if (w) w.mode = 'learn'; }
      showMembers();
    } catch (e) {
      toast(`Learning not started: ${(e as ApiError).message}`, 'error');
    } finally {
      start.disabled = !app.canWrite();
    }
  });

  const generate = h('button', { id: 'learn-generate', class: 'primary' }, 'Propose a baseline') as HTMLButtonElement;
  generate.addEventListener('click', async () => {
    const ids = chosen();
    if (ids.length === 0) return toast('Choose at least one workload.', 'error');
    let since: string | undefined = windowSel.value || undefined;
    if (since === 'learning') since = sessionStorage.getItem(startedKey(nsSel.value)) ?? undefined;
    generate.disabled = true;
    clear(review);
    review.append(h('p', { class: 'muted' }, 'Learning from the recorded flows…'));
    try {
      const result = await app.client.baseline({ workloads: ids, since });
      await showReview(app, review, result, { ids, since }, () => dialog.close());
    } catch (e) {
      clear(review);
      review.append(h('p', { class: 'error' }, (e as ApiError).message));
    } finally {
      generate.disabled = false;
    }
  });

  dialog.append(
    h('h2', {}, 'Learn a baseline'),
    h('p', { class: 'muted' },
      'Put workloads in learn mode, let them work, then review the policies learned from their traffic, preview them against the recorded flows and apply them.'),
    h('div', { class: 'field' }, h('span', {}, 'namespace'), nsSel),
    members, status,
    h('div', { class: 'row' }, start, h('label', {}, 'learn from ', windowSel), generate,
      h('button', { onclick: () => dialog.close() }, 'Close')),
    review,
  );
  showMembers();
  dialog.showModal();
}
