/**
 * Where a JSON pointer (/spec/tiers/mec/nodes/0/name) sits in a parsed YAML document: the line
 * operators fix. Same walk as services/scheduler/policy.ts, over JSON pointers instead of dotted paths.
 */
import { isAlias, isMap, isSeq, type Document, type LineCounter } from 'yaml';

export function pointerSegments(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'));
}

export function pointerOf(segments: readonly (string | number)[]): string {
  return segments.map((segment) => `/${String(segment).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

/** The line of the deepest node on `pointer` the document has (a mapping entry: its key's line); 1 when none. */
export function lineOfPointer(doc: Document, lineCounter: LineCounter, pointer: string): number {
  let node: unknown = doc.contents;
  let offset = rangeStart(node);
  for (const segment of pointerSegments(pointer)) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((item) => keyText(item.key) === segment);
      if (pair === undefined) break;
      offset = rangeStart(pair.key) ?? rangeStart(pair.value) ?? offset;
      node = pair.value;
    } else if (isSeq(node) && /^\d+$/.test(segment)) {
      const item = node.items[Number(segment)];
      if (item === undefined) break;
      offset = rangeStart(item) ?? offset;
      node = item;
    } else {
      break;
    }
  }
  return offset === undefined ? 1 : lineCounter.linePos(offset).line;
}

/** The YAML node at `pointer`, for slicing its source (an inline policy). */
export function nodeAtPointer(doc: Document, pointer: string): unknown {
  let node: unknown = doc.contents;
  for (const segment of pointerSegments(pointer)) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) node = node.items.find((item) => keyText(item.key) === segment)?.value;
    else if (isSeq(node) && /^\d+$/.test(segment)) node = node.items[Number(segment)];
    else return undefined;
    if (node === undefined) return undefined;
  }
  return node;
}

function keyText(key: unknown): string | undefined {
  if (key !== null && typeof key === 'object' && 'value' in key) return String((key as { value: unknown }).value);
  return key === null || key === undefined ? undefined : String(key);
}

export function rangeStart(node: unknown): number | undefined {
  if (node === null || typeof node !== 'object' || !('range' in node)) return undefined;
  return (node as { range?: readonly number[] | null }).range?.[0];
}

export function rangeEnd(node: unknown): number | undefined {
  if (node === null || typeof node !== 'object' || !('range' in node)) return undefined;
  return (node as { range?: readonly number[] | null }).range?.[1];
}
