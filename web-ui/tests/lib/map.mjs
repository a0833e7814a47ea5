// Reading and clicking the map: cytoscape draws on a canvas, so the tests ask it where an
// element is and click there with the real mouse.

export async function until(check, timeoutMs, what) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** `{ "src|dst|PROTO|port": verdict }` of the drawn edges. */
export function edgeVerdicts(page) {
  return page.evaluate(() => Object.fromEntries(window.__bulkhead.cy.edges().map((e) => [e.id().slice(2), e.data('verdict')])));
}

async function clickAt(page, id, where) {
  const pos = await page.evaluate(([id, where]) => {
    const cy = window.__bulkhead.cy;
    const el = cy.getElementById(id);
    if (el.empty()) return null;
    const p = where === 'mid' ? el.renderedMidpoint() : el.renderedPosition();
    const r = cy.container().getBoundingClientRect();
    return { x: p.x + r.left, y: p.y + r.top };
  }, [id, where]);
  if (!pos) throw new Error(`${id} is not on the map`);
  await page.mouse.click(pos.x, pos.y);
}

export async function clickNode(page, id) {
  await clickAt(page, id, 'node');
  await page.waitForFunction((id) => document.querySelector('#panel-title')?.textContent === id, id, { timeout: 10000 });
}

export async function clickEdge(page, key) {
  await clickAt(page, key, 'mid');
  const [src, dst] = key.slice(2).split('|');
  await page.waitForFunction((t) => document.querySelector('#panel-title')?.textContent === t, `${src} → ${dst}`, { timeout: 10000 });
}

/**
 * Clicks a point of a node (a box) that no edge passes near and no other node covers:
 * straight edges end at box centres, so a box's centre is usually under an edge.
 */
export async function clickFree(page, id) {
  const pos = await page.evaluate((id) => {
    const cy = window.__bulkhead.cy;
    const el = cy.getElementById(id);
    if (el.empty()) return null;
    const b = el.renderedBoundingBox({ includeLabels: false });
    const segs = cy.edges(':visible').map((e) => [e.renderedSourceEndpoint(), e.renderedTargetEndpoint()]);
    const others = cy.nodes(':visible').filter((n) => n.id() !== id && !n.hasClass('frame')).map((n) => n.renderedBoundingBox());
    const near = (p, [a, c]) => {
      const dx = c.x - a.x, dy = c.y - a.y, l = dx * dx + dy * dy || 1;
      const t = Math.max(0, Math.min(1, ((p.x - a.x) * dx + (p.y - a.y) * dy) / l));
      return Math.hypot(p.x - a.x - t * dx, p.y - a.y - t * dy) < 8;
    };
    for (let i = 1; i < 10; i++) {
      for (let j = 1; j < 10; j++) {
        const p = { x: b.x1 + (b.w * i) / 10, y: b.y1 + (b.h * j) / 10 };
        if (segs.some((s) => near(p, s))) continue;
        if (others.some((q) => p.x >= q.x1 && p.x <= q.x2 && p.y >= q.y1 && p.y <= q.y2)) continue;
        const r = cy.container().getBoundingClientRect();
        return { x: p.x + r.left, y: p.y + r.top };
      }
    }
    return null;
  }, id);
  if (!pos) throw new Error(`no free point on ${id}`);
  await page.mouse.click(pos.x, pos.y);
}
