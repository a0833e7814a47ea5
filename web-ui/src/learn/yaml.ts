// The proposed baseline as text: the server's YAML, minus the rules the reviewer left
// out, split per policy so each can be compared with what is stored under its name.
//
// The server's rendering stays the source of truth (its evidence comments included);
// the UI only deletes whole rules from it, so it never writes policy syntax of its own.

import { parseAllDocuments } from 'yaml';
import type { Document } from 'yaml';

export type Direction = 'ingress' | 'egress';
/** `name|direction|index` of each rule the reviewer unticked (indices as in the data). */
export type Excluded = Set<string>;

export const ruleKey = (policy: string, dir: Direction, index: number) => `${policy}|${dir}|${index}`;

const EVIDENCE = 'bulkhead.dev/evidence-';

function policyName(doc: Document): string | null {
  const n = doc.getIn(['metadata', 'name']);
  return typeof n === 'string' ? n : null;
}

/** Removes the excluded rules of one policy, renumbering its evidence annotations. */
function prune(doc: Document, name: string, excluded: Excluded): void {
  for (const dir of ['ingress', 'egress'] as Direction[]) {
    const rules = doc.getIn(['spec', dir]) as { items?: unknown[] } | undefined;
    const count = rules?.items?.length ?? 0;
    const gone = [...Array(count).keys()].filter((i) => excluded.has(ruleKey(name, dir, i)));
    if (gone.length === 0) continue;
    const notes = [...Array(count).keys()].map((i) => doc.getIn(['metadata', 'annotations', `${EVIDENCE}${dir}-${i}`]));
    // From the back, so the indices still to delete stay valid. An emptied list stays
    // (`ingress: []`): the direction stays isolated, which is what leaving rules out means.
    for (const i of gone.reverse()) doc.deleteIn(['spec', dir, i]);
    for (let i = 0; i < count; i++) doc.deleteIn(['metadata', 'annotations', `${EVIDENCE}${dir}-${i}`]);
    notes.filter((_, i) => !excluded.has(ruleKey(name, dir, i)))
      .forEach((note, j) => doc.setIn(['metadata', 'annotations', `${EVIDENCE}${dir}-${j}`], note));
  }
}

/** `name` as the server stores it: `namespace/name`. */
export interface PolicyText { name: string; text: string }

/** The whole file to apply, and each policy's own document (for the diff). */
export function withExclusions(yaml: string, excluded: Excluded): { file: string; policies: PolicyText[] } {
  const docs = parseAllDocuments(yaml);
  if (!Array.isArray(docs)) throw new Error('the proposed baseline is not a YAML stream');
  const parts: string[] = [];
  const policies: PolicyText[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) throw new Error(`the proposed baseline does not parse: ${doc.errors[0].message}`);
    const name = policyName(doc);
    if (name) prune(doc, name, excluded);
    const text = doc.toString({ directives: false });
    parts.push(text);
    // Stored policies are named `namespace/name` (cluster-wide ones just `name`).
    const ns = doc.getIn(['metadata', 'namespace']);
    if (name) policies.push({ name: typeof ns === 'string' ? `${ns}/${name}` : name, text: stripComments(text) });
  }
  return { file: parts.join('---\n'), policies };
}

/** The document without comment lines and blank lines: what a diff should compare. */
export function stripComments(text: string): string {
  return text.split('\n').filter((l) => l.trim() !== '' && !/^\s*#/.test(l) && l.trim() !== '---').join('\n');
}

export type DiffLine = { op: ' ' | '+' | '-'; text: string };

/** A line diff (longest common subsequence): small documents, so O(n·m) is fine. */
export function lineDiff(before: string, after: string): DiffLine[] {
  const a = before.split('\n');
  const b = after.split('\n');
  const lcs = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const out: DiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) { out.push({ op: ' ', text: a[i] }); i++; j++; }
    else if (j < b.length && (i === a.length || lcs[i][j + 1] >= lcs[i + 1][j])) out.push({ op: '+', text: b[j++] });
    else out.push({ op: '-', text: a[i++] });
  }
  return out;
}
