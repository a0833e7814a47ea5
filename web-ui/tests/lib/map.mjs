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
