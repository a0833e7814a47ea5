// Where things are for the browser tests and the benchmark: the bulkhead binary, the
// built UI, and Debian's Chromium (no browser download, ever).

import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const WEB_UI = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const REPO = resolve(WEB_UI, '..');
export const ARTIFACTS = join(WEB_UI, 'test-results');
export const CHROMIUM = process.env.BULKHEAD_CHROMIUM ?? '/usr/bin/chromium';

/**
 * The built binary: $BULKHEAD_BIN, else debug (then release) under the cargo target dir;
 * `release: true` (the benchmark, which should not measure a debug server) tries release first.
 */
export function bulkheadBin({ release = false } = {}) {
  if (process.env.BULKHEAD_BIN) return process.env.BULKHEAD_BIN;
  const target = process.env.CARGO_TARGET_DIR ? resolve(REPO, process.env.CARGO_TARGET_DIR) : join(REPO, 'target');
  const builds = release ? ['release', 'debug'] : ['debug', 'release'];
  for (const p of builds.map((b) => join(target, b, 'bulkhead'))) {
    if (existsSync(p)) return p;
  }
  throw new Error(`no bulkhead binary under ${target}: run cargo build -p bulkhead first (or set BULKHEAD_BIN)`);
}

export function artifacts() {
  mkdirSync(ARTIFACTS, { recursive: true });
  return ARTIFACTS;
}

/** A short random suffix: lab names and ports unique to this run. */
export function unique() {
  return Math.random().toString(36).slice(2, 6);
}
