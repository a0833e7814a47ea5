// Fitting the view and the elements of a large map's boxes: helpers of the view.

import type { Core, ElementDefinition } from 'cytoscape';
import type { Box } from './layout';

/**
 * `cy.fit()` measures every element's bounding box (edge curves, labels, compound
 * boxes): seconds for 10^4 edges. The workloads' positions bound the picture well
 * enough, plus a margin for boxes and labels.
 */
export function fitToPositions(cy: Core): void {
  let x1 = Infinity, y1 = Infinity, x2 = -Infinity, y2 = -Infinity;
  cy.nodes('.workload, .external').forEach((n) => {
    const p = n.position();
    x1 = Math.min(x1, p.x); y1 = Math.min(y1, p.y); x2 = Math.max(x2, p.x); y2 = Math.max(y2, p.y);
  });
  // A large map's namespace frames are plain nodes: their own size bounds them.
  cy.nodes('.frame').forEach((n) => {
    const p = n.position(), w = n.data('w') / 2, h = n.data('h') / 2;
    x1 = Math.min(x1, p.x - w); y1 = Math.min(y1, p.y - h); x2 = Math.max(x2, p.x + w); y2 = Math.max(y2, p.y + h);
  });
  if (!Number.isFinite(x1)) return;
  const margin = cy.nodes('.frame').nonempty() ? 10 : 70;
  const w = x2 - x1 + 2 * margin, h = y2 - y1 + 2 * margin;
  const zoom = Math.min(cy.width() / w, cy.height() / h, 1.5);
  cy.viewport({
    zoom,
    pan: { x: cy.width() / 2 - zoom * (x1 + x2) / 2, y: cy.height() / 2 - zoom * (y1 + y2) / 2 },
  });
}

/** A namespace frame or app box of a large map: a plain node drawn behind the workloads. */
export function boxElement(b: Box): ElementDefinition {
  return {
    group: 'nodes',
    data: { id: b.id, label: b.label, ns: b.ns, w: b.w, h: b.h },
    position: { x: b.x, y: b.y },
    classes: b.kind === 'ns' ? 'frame' : 'box',
    selectable: false,
    grabbable: false,
    // A drag that starts on a box pans the map, as one on the background does.
    pannable: true,
  };
}
