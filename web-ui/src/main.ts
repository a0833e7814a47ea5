// The application: sign in, load the graph, keep it live, wire filters and panels.

import './style.css';
import { ApiError, Client } from './api/client';
import { follow } from './api/sse';
import { VERDICTS } from './api/types';
import type { ApiEvent, Session, Verdict, WorkloadInfo } from './api/types';
import type { App } from './app';
import { forget, signIn, takeToken } from './auth';
import { clear, h } from './dom';
import { MapModel } from './map/model';
import type { Filters } from './map/model';
import { MapView } from './map/view';
import { showEdge } from './panels/edge';
import { showBundle } from './panels/bundle';
import { showWorkload } from './panels/workload';
import { VERDICT_COLOURS } from './map/style';

declare global {
  interface Window { __bulkhead?: Record<string, unknown> }
}

const WINDOWS: [string, number][] = [['all time', 0], ['last 1 min', 60_000], ['last 5 min', 300_000], ['last 15 min', 900_000], ['last hour', 3_600_000]];

async function start(): Promise<void> {
  const root = document.getElementById('app')!;
  let token = takeToken();
  let session: Session | null = null;
  let message: string | undefined;
  for (;;) {
    if (!token) token = await signIn(root, message);
    try {
      session = await new Client(token).session();
      break;
    } catch (e) {
      const err = e as ApiError;
      message = err.status === 401 ? 'That token is not known to this server.' : err.message;
      forget();
      token = null;
    }
  }
  run(root, new Client(token), session);
}

function run(root: HTMLElement, client: Client, session: Session): void {
  const filters: Filters = { namespaces: null, verdicts: new Set(VERDICTS), windowMs: 0, search: '' };
  const panel = h('aside', { id: 'panel', class: 'panel' }, h('p', { class: 'muted' }, 'Click a workload or a connection.'));
  const mapBox = h('div', { id: 'map' });
  const status = h('span', { id: 'live', class: 'live off' }, 'connecting…');
  const nsBox = h('div', { id: 'ns-filter', class: 'ns-filter' });
  const verdictBox = h('div', { class: 'verdict-filter' }, ...VERDICTS.map((v) => {
    const cb = h('input', { type: 'checkbox', id: `verdict-${v}`, checked: true }) as HTMLInputElement;
    cb.addEventListener('change', () => { cb.checked ? filters.verdicts.add(v) : filters.verdicts.delete(v); app.view.applyFilters(app.model, filters); });
    return h('label', { class: 'verdict-toggle' }, cb, h('span', { class: 'swatch', style: `background:${VERDICT_COLOURS[v as Verdict]}` }), v);
  }));
  const windowSel = h('select', { id: 'window' }, ...WINDOWS.map(([l, ms]) => h('option', { value: ms }, l))) as HTMLSelectElement;
  windowSel.addEventListener('change', () => { filters.windowMs = Number(windowSel.value); app.view.update(app.model, filters); });
  const grouping = h('input', { type: 'checkbox', id: 'group-edges' }) as HTMLInputElement;
  grouping.addEventListener('change', () => app.view.setGrouped(grouping.checked));
  const search = h('input', { id: 'search', type: 'search', placeholder: 'search workloads, labels…' }) as HTMLInputElement;
  search.addEventListener('input', () => { filters.search = search.value.trim(); app.view.applyFilters(app.model, filters); });
  search.addEventListener('keydown', (e) => {
    if ((e as KeyboardEvent).key !== 'Enter') return;
    const hit = [...app.model.nodes.values()].find((n) => app.model.matchesSearch(n, filters.search));
    if (hit) { app.view.focus(hit.id); select({ node: hit.id }); }
  });
  const roleBadge = h('span', { id: 'role', class: `role ${session.role}` }, `${session.name} · ${session.role}`);
  root.append(
    h('header', {},
      h('strong', { class: 'brand' }, 'Bulkhead'), search, h('label', {}, 'namespaces ', nsBox), verdictBox,
      h('label', {}, 'time ', windowSel), h('label', { title: 'Draw connections between groups until zoomed in or expanded' }, grouping, 'group connections'), h('button', { id: 'btn-learn', onclick: () => void import('./learn/dialog').then((m) => m.openLearn(app)) }, 'Learn a baseline…'),
      h('span', { class: 'spacer' }), status, roleBadge),
    h('main', {}, mapBox, panel),
    h('dialog', { id: 'editor' }),
    h('dialog', { id: 'learn', class: 'learn' }),
    h('div', { id: 'toast', class: 'toast' }),
  );

  let selected: { node?: string; edge?: string } = {};
  const select = (s: { node?: string; edge?: string }) => {
    selected = s;
    if (s.node) void showWorkload(app, panel, s.node).catch(panelError);
    else if (s.edge?.startsWith('b:')) showBundle(app, panel, s.edge);
    else if (s.edge) showEdge(app, panel, s.edge);
    else { clear(panel); panel.append(h('p', { class: 'muted' }, 'Click a workload or a connection.')); }
  };
  const panelError = (e: unknown) => { clear(panel); panel.append(h('p', { class: 'error' }, (e as Error).message)); };

  const model = new MapModel();
  // `?map=large` draws any map the way large ones are (to see how a growing one will look).
  const large = new URLSearchParams(location.search).get('map') === 'large';
  const view = new MapView(mapBox, { onNode: (id) => select({ node: id }), onEdge: (k) => select({ edge: k }), onClear: () => select({}) }, large);
  // A bundle on display may have been regrouped away (a box opened, a filter changed).
  view.onRegroup = () => { if (selected.edge?.startsWith('b:') && !view.bundle(selected.edge)) select(selected); };
  let loads = 0;
  const app: App = {
    client, session, model, view, filters, workloads: new Map<string, WorkloadInfo>(),
    canWrite: () => session.role === 'admin',
    reload: async () => {
      const f0 = performance.now();
      if (loads === 0) debug.loadStartMs = f0;
      // The map needs only the graph; the inventory (labels for rules) is asked for once
      // it is drawn, so the server answers the graph alone.
      const g = await client.graph();
      debug.fetchMs = performance.now() - f0;
      model.load(g);
      renderNamespaces();
      await view.render(model, filters);
      grouping.checked = view.grouped();
      if (loads === 0) {
        // First render: the map drawn (two frames after its elements exist), whatever
        // else is still on its way.
        const drawn = performance.now();
        await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
        debug.firstRenderMs = performance.now();
        // start: when the graph was asked for (page, script, sign-in before it); draw: the
        // first frames after the elements exist (cytoscape styles and paints them there).
        debug.timings = { start: f0, fetch: debug.fetchMs as number, ...view.timings, draw: (debug.firstRenderMs as number) - drawn };
      }
      app.workloads = new Map((await client.workloads()).map((w) => [w.id, w]));
      loads += 1;
      debug.ready = true;
      debug.loads = loads;
      if (selected.node || selected.edge) select(selected);
    },
  };
  const debug: Record<string, unknown> = { cy: view.cy, model, ready: false, loads: 0, events: 0, reloadReasons: [] };
  window.__bulkhead = debug;

  const renderNamespaces = () => {
    clear(nsBox);
    for (const ns of [...model.namespaces(), '(external)']) {
      const cb = h('input', { type: 'checkbox', id: `ns-${ns}`, checked: !filters.namespaces || filters.namespaces.has(ns) }) as HTMLInputElement;
      cb.addEventListener('change', () => {
        const all = [...model.namespaces(), '(external)'];
        const current = filters.namespaces ?? new Set(all);
        cb.checked ? current.add(ns) : current.delete(ns);
        filters.namespaces = current.size === all.length ? null : current;
        view.applyFilters(model, filters);
      });
      nsBox.append(h('label', {}, cb, ns));
    }
  };

  // Live updates: edges change in place; anything that changes the set of nodes, or a
  // gap in the stream, reloads the whole graph (debounced).
  let reloadTimer: number | undefined;
  const scheduleReload = (why: string) => {
    (debug.reloadReasons as string[]).push(why);
    window.clearTimeout(reloadTimer);
    reloadTimer = window.setTimeout(() => void app.reload().catch(() => undefined), 250);
  };
  let pending = false;
  const onEvent = (e: ApiEvent) => {
    debug.events = (debug.events as number) + 1;
    switch (e.type) {
      case 'edges':
        if (model.upsert(e.edges)) return scheduleReload('an edge with a new node');
        if (!pending) {
          pending = true;
          requestAnimationFrame(() => {
            pending = false;
            view.update(model, filters);
            if (selected.edge) showEdge(app, panel, selected.edge);
          });
        }
        return;
      case 'mode': {
        const n = model.nodes.get(e.workload);
        if (n) n.mode = e.mode;
        view.setMode(e.workload, e.mode);
        const w = app.workloads.get(e.workload);
        if (w) w.mode = e.mode;
        if (selected.node === e.workload) select(selected);
        return;
      }
      case 'policies':
        if (selected.node) select(selected);
        return;
      case 'workloads':
      case 'lagged':
        return scheduleReload(e.type);
      default:
        return;
    }
  };
  let opened = 0;
  follow(client.token, {
    onEvent,
    // The first open follows the initial load; a reconnection may have missed events.
    onOpen: () => { if (opened++ > 0) scheduleReload('reconnected'); },
    onState: (up) => { status.textContent = up ? 'live' : 'reconnecting…'; status.className = `live ${up ? 'on' : 'off'}`; },
  });
  void app.reload().catch(panelError);
  // The time window moves with the clock: age edges out now and then.
  window.setInterval(() => { if (filters.windowMs > 0) view.update(model, filters); }, 5000);
}

void start();
