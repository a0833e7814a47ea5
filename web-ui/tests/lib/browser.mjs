// Headless Chromium (Debian's) through playwright-core, with every console error and
// page error collected so a test can assert there were none.

import { chromium } from 'playwright-core';
import { CHROMIUM } from './env.mjs';

export async function openBrowser() {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
  return browser;
}

export async function openPage(browser, { width = 1500, height = 900 } = {}) {
  const page = await browser.newPage({ viewport: { width, height } });
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => errors.push(`page: ${e.message}`));
  return { page, errors };
}
