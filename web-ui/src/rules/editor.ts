// The rule editor: YAML to review (or edit), a preview of the recorded flows the change
// would deny that are not denied today (replay, the server's reference evaluator), then
// saving, which stores the policy; the agents put it in force.

import { ApiError, Client } from '../api/client';
import type { FlowRecord, PolicyFile } from '../api/types';
import { clear, h, toast } from '../dom';
import { portLabel } from '../map/model';

const key = (r: FlowRecord) => `${r.source}|${r.destination}|${r.protocol}|${r.port}`;

/** The stored policies as replay files, without the ones the new text redefines. */
async function storedFiles(client: Client, except: Set<string>): Promise<PolicyFile[]> {
  const seen = new Set<string>();
  const out: PolicyFile[] = [];
  for (const p of await client.policies()) {
    if (except.has(p.name)) continue;
    // A List document is stored once per policy it defines; send its text once.
    const id = `${p.file}\u0000${p.source}`;
    if (seen.has(id)) continue;
    seen.add(id);
    out.push({ name: p.file || p.name, text: p.source });
  }
  return out;
}

export interface Preview { newlyDenied: FlowRecord[]; alreadyDenied: number; names: string[] }

/** `since` limits the replay to the flows recorded since then (default: all recorded). */
export async function preview(client: Client, fileName: string, text: string, since?: string): Promise<Preview> {
  const file = { name: fileName, text };
  // A dry run validates the text against the stored set and names what it defines.
  const dry = await client.apply({ files: [file], dry_run: true });
  const names = dry.policies.map((p) => p.name);
  const stored = await storedFiles(client, new Set(names));
  const before = new Set<string>();
  const all = await storedFiles(client, new Set());
  if (all.length > 0) for (const r of (await client.replay({ files: all, since })).denied) before.add(key(r));
  const after = await client.replay({ files: [...stored, file], since });
  const newlyDenied = after.denied.filter((r) => !before.has(key(r)));
  return { newlyDenied, alreadyDenied: after.denied.length - newlyDenied.length, names };
}

export function openEditor(client: Client, title: string, fileName: string, yaml: string, onSaved: () => void): void {
  const dialog = document.getElementById('editor') as HTMLDialogElement;
  clear(dialog);
  const text = h('textarea', { id: 'editor-yaml', spellcheck: 'false', rows: 18 }) as HTMLTextAreaElement;
  text.value = yaml;
  const result = h('div', { id: 'editor-preview', class: 'preview' }, 'Computing the preview…');
  const save = h('button', { id: 'editor-save', class: 'primary', disabled: true }, 'Save and enforce') as HTMLButtonElement;
  let previewed: string | null = null;

  const run = async () => {
    save.disabled = true;
    previewed = null;
    clear(result);
    result.append('Computing the preview…');
    const current = text.value;
    try {
      const p = await preview(client, fileName, current);
      clear(result);
      if (p.newlyDenied.length === 0) {
        result.append(h('p', { class: 'ok' }, `No recorded flow would be newly denied by ${p.names.join(', ')}.`));
      } else {
        result.append(h('p', { class: 'warn' }, `${p.newlyDenied.length} recorded flow(s) would be denied:`));
        const rows = p.newlyDenied.map((r) =>
          h('tr', { class: 'would-deny-row' }, h('td', {}, r.source), h('td', {}, r.destination), h('td', {}, portLabel(r.protocol, r.port)),
            h('td', {}, String(r.connections)), h('td', { class: 'rule' }, r.rule ?? '')));
        result.append(h('table', { class: 'flows' },
          h('thead', {}, h('tr', {}, h('th', {}, 'source'), h('th', {}, 'destination'), h('th', {}, 'port'), h('th', {}, 'conns'), h('th', {}, 'deciding rule'))),
          h('tbody', {}, ...rows)));
      }
      if (p.alreadyDenied > 0) result.append(h('p', { class: 'muted' }, `${p.alreadyDenied} flow(s) are denied already and stay denied.`));
      previewed = current;
      save.disabled = false;
    } catch (e) {
      clear(result);
      const err = e as ApiError;
      result.append(h('p', { class: 'error' }, err.message), ...(err.details ?? []).map((d) => h('pre', { class: 'error' }, d)));
    }
  };

  save.addEventListener('click', async () => {
    if (previewed !== text.value) return void run();
    save.disabled = true;
    try {
      const r = await client.apply({ files: [{ name: fileName, text: text.value }] });
      toast(`Saved ${r.policies.map((p) => `${p.name} (${p.change})`).join(', ')}; revision ${r.revision} goes to the agents.`);
      dialog.close();
      onSaved();
    } catch (e) {
      const err = e as ApiError;
      toast(`Not saved: ${err.message} ${(err.details ?? []).join(' ')}`, 'error');
      save.disabled = false;
    }
  });
  text.addEventListener('input', () => { save.disabled = true; previewed = null; });

  dialog.append(
    h('h2', {}, title),
    text,
    h('div', { class: 'row' },
      h('button', { id: 'editor-preview-btn', onclick: () => void run() }, 'Preview'),
      save,
      h('button', { onclick: () => dialog.close() }, 'Cancel')),
    result,
  );
  dialog.showModal();
  void run();
}
