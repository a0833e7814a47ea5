// The panel of a bundle (grouped connections between two groups): how many connections
// of each verdict, every flow record behind them with the rule that decided it, and a
// way to draw its connections as themselves.

import type { App } from '../app';
import { clear, h } from '../dom';
import { VERDICTS } from '../api/types';
import { RANK } from '../map/model';
import { groupsOf } from '../map/bundle';
import { flowTable } from './workload';

/** Flow rows shown at most: a bundle of a namespace pair can hold thousands. */
const MAX_ROWS = 300;

const name = (id: string) => id.replace(/^(ns|app):/, '');

export function showBundle(app: App, panel: HTMLElement, key: string): void {
  clear(panel);
  const b = app.view.bundle(key);
  if (!b) {
    panel.append(h('p', { class: 'muted' }, 'These connections are no longer grouped this way on the map.'));
    return;
  }
  panel.append(
    h('h2', { id: 'panel-title' }, `${name(b.source)} ↔ ${name(b.target)}`),
    h('div', { class: 'kv' }, h('span', {}, 'connections'), h('span', { id: 'bundle-count' }, String(b.members.length))),
    h('div', { class: 'kv' }, h('span', {}, 'verdict now'), h('span', { id: 'edge-verdict', class: `verdict ${b.verdict}` }, b.verdict)),
    ...VERDICTS.filter((v) => b.members.some((d) => d.verdict === v)).map((v) =>
      h('div', { class: 'kv' }, h('span', {}, v), h('span', { class: `verdict ${v}` }, String(b.members.filter((d) => d.verdict === v).length)))),
  );
  const show = h('button', { id: 'btn-expand-bundle' }, 'Show these connections') as HTMLButtonElement;
  show.addEventListener('click', () => app.view.expand(groupsOf(b, app.model.nodes)));
  panel.append(h('div', { class: 'row' }, show));
  // The strictest and most recent first: what the user opened the bundle for.
  const records = b.members.flatMap((d) => d.records)
    .sort((x, y) => RANK[y.verdict] - RANK[x.verdict] || y.last_seen.localeCompare(x.last_seen));
  panel.append(h('h3', {}, 'Flows (each with its deciding rule)'), flowTable(records.slice(0, MAX_ROWS).map((r) => ({ ...r, node: null }))));
  if (records.length > MAX_ROWS) panel.append(h('p', { class: 'muted' }, `and ${records.length - MAX_ROWS} more: show the connections to pick one.`));
}
