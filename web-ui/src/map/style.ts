// The map's look: verdict colours on edges (allowed green, denied red, would-deny amber
// and dashed), mode colours on workloads, boxes for namespaces and apps.

import type { StylesheetJson } from 'cytoscape';

export const VERDICT_COLOURS = { allowed: '#2f9e5b', denied: '#d64545', 'would-deny': '#e09a1a' };

export function stylesheet(big: boolean): StylesheetJson {
  return [
    {
      selector: 'node',
      style: {
        label: 'data(label)', 'font-size': 11, color: '#1d2733', 'text-valign': 'bottom',
        'text-margin-y': 3, width: 26, height: 26, shape: 'round-rectangle',
        'background-color': '#4a6fa5', 'border-width': 1, 'border-color': '#2c4466',
        'min-zoomed-font-size': big ? 9 : 0,
        'z-index-compare': big ? 'manual' : 'auto', 'z-index': 2,
      },
    },
    { selector: 'node[mode = "monitor"]', style: { 'background-color': '#9b6bc2', 'border-color': '#5d3b7a' } },
    { selector: 'node[mode = "learn"]', style: { 'background-color': '#7b8a99', 'border-color': '#4a5663' } },
    { selector: 'node.workload[!live]', style: { opacity: 0.55 } },
    { selector: 'node.external', style: { shape: 'diamond', 'background-color': '#a0a7ae', 'border-color': '#666' } },
    {
      selector: ':parent',
      style: {
        shape: 'round-rectangle', 'background-color': '#eef2f7', 'background-opacity': 0.6,
        'border-color': '#b8c3d1', 'border-width': 1, 'text-valign': 'top', 'text-halign': 'center',
        'text-margin-y': -2, 'font-size': 12, 'font-weight': 'bold', color: '#44546a', padding: '12px',
      },
    },
    { selector: ':parent.app', style: { 'background-color': '#ffffff', 'border-style': 'dashed', 'font-size': 10, 'font-weight': 'normal' } },
    ...(big ? bigEdges : smallEdges),
    {
      selector: 'node.frame',
      style: {
        shape: 'round-rectangle', width: 'data(w)', height: 'data(h)', 'background-color': '#e3eaf3',
        'background-opacity': 0.5, 'border-width': 1, 'border-color': '#b8c3d1', 'text-valign': 'top',
        'font-size': 28, 'font-weight': 'bold', color: '#44546a', 'z-index': 0, events: 'no', 'min-zoomed-font-size': 0,
      },
    },
    {
      selector: 'node.box',
      style: {
        shape: 'round-rectangle', width: 'data(w)', height: 'data(h)', 'background-color': '#ffffff',
        'background-opacity': 0.7, 'border-width': 1, 'border-style': 'dashed', 'border-color': '#9fb0c4',
        'text-valign': 'top', 'text-margin-y': 16, 'font-size': 12, color: '#44546a', 'z-index': 0, 'min-zoomed-font-size': 0,
      },
    },
    { selector: 'edge.bundle', style: { width: 'mapData(count, 1, 40, 2, 9)', ...(big ? {} : { 'target-arrow-shape': 'none' }) } },
    { selector: '.hidden', style: { display: 'none' } },
    { selector: '.faded', style: { opacity: 0.15 } },
    { selector: 'node.match', style: { 'border-width': 4, 'border-color': '#f2c200' } },
    { selector: 'node:selected', style: { 'border-width': 4, 'border-color': '#1565c0' } },
    { selector: 'edge:selected', style: { width: 5 } },
  ];
}

const smallEdges: StylesheetJson = [
  {
    selector: 'edge',
    style: {
      width: 2, 'curve-style': 'bezier', 'target-arrow-shape': 'triangle',
      'line-color': VERDICT_COLOURS.allowed, 'target-arrow-color': VERDICT_COLOURS.allowed,
      label: 'data(label)', 'font-size': 9, 'text-rotation': 'autorotate',
      'text-background-color': '#fff', 'text-background-opacity': 0.85, 'text-background-padding': '1px',
      'arrow-scale': 0.9, 'z-index': 1,
    },
  },
  { selector: 'edge[verdict = "denied"]', style: { 'line-color': VERDICT_COLOURS.denied, 'target-arrow-color': VERDICT_COLOURS.denied } },
  {
    selector: 'edge[verdict = "would-deny"]',
    style: { 'line-color': VERDICT_COLOURS['would-deny'], 'target-arrow-color': VERDICT_COLOURS['would-deny'], 'line-style': 'dashed' },
  },
];

/**
 * Large maps: as few edge properties as can show the verdict. Cytoscape runs its style
 * triggers once per property per element when styles are first applied (each one
 * allocating a collection), so with 10,000 edges every property left at its default saves
 * 10,000 of them; labels, arrows and their text settings are the bulk.
 */
const bigEdges: StylesheetJson = [
  { selector: 'edge', style: { width: 2, 'curve-style': 'haystack', 'line-color': VERDICT_COLOURS.allowed, 'z-index-compare': 'manual', 'z-index': 1 } },
  // Connections inside a closed app box: a loop on the box (straight edges cannot loop).
  // The types say number; cytoscape maps data() into any numeric property.
  { selector: 'edge:loop', style: { 'curve-style': 'bezier', 'control-point-step-size': 'data(loop)' as unknown as number } },
  // Denied and would-deny connections are drawn over allowed ones: they are the news.
  { selector: 'edge[verdict = "denied"]', style: { 'line-color': VERDICT_COLOURS.denied, 'z-index': 3 } },
  { selector: 'edge[verdict = "would-deny"]', style: { 'line-color': VERDICT_COLOURS['would-deny'], 'line-style': 'dashed', 'z-index': 2 } },
];
