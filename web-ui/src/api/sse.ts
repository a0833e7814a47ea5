// Live updates. EventSource cannot send an Authorization header, and the token must not
// travel in a URL (it would land in logs), so the stream is read with fetch and parsed
// here: `event:` / `data:` lines, a blank line ending each event.

import type { ApiEvent } from './types';

export interface StreamHandlers {
  onEvent(e: ApiEvent): void;
  /** Called on (re)connection: the client may have missed events and should reload. */
  onOpen(): void;
  onState(connected: boolean): void;
}

export function follow(token: string, h: StreamHandlers): () => void {
  const abort = new AbortController();
  let delay = 500;
  const loop = async () => {
    while (!abort.signal.aborted) {
      try {
        const resp = await fetch('/api/v1/events', {
          headers: { Authorization: `Bearer ${token}`, Accept: 'text/event-stream' },
          signal: abort.signal,
        });
        if (!resp.ok || !resp.body) throw new Error(`status ${resp.status}`);
        h.onState(true);
        h.onOpen();
        delay = 500;
        await read(resp.body, h);
      } catch {
        // A dropped stream is expected (server restart, laptop sleep): retry quietly.
      }
      h.onState(false);
      if (abort.signal.aborted) return;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 10_000);
    }
  };
  void loop();
  return () => abort.abort();
}

async function read(body: ReadableStream<Uint8Array>, h: StreamHandlers): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, end);
      buf = buf.slice(end + 2);
      const data = block
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).replace(/^ /, ''))
        .join('\n');
      if (!data) continue; // keep-alive comments
      try {
        h.onEvent(JSON.parse(data) as ApiEvent);
      } catch {
        // A malformed event is skipped; the next reload repairs the view.
      }
    }
  }
}
