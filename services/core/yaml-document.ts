/**
 * Messages about YAML documents that operators edit (placement policies, blueprints): where a path
 * (['spec', 'tiers', 0] or a JSON pointer /spec/tiers/0) sits in the source - the line they fix -
 * and how a value found there is named in a message.
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

/** The line of the deepest node on `path` the document has (a mapping entry: its key's line); undefined when none. */
export function lineOfPath(doc: Document, lineCounter: LineCounter, path: readonly (string | number)[]): number | undefined {
  let node: unknown = doc.contents;
  let offset = rangeStart(node);
  for (const segment of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((item) => keyText(item.key) === String(segment));
      if (pair === undefined) break;
      offset = rangeStart(pair.key) ?? rangeStart(pair.value) ?? offset;
      node = pair.value;
    } else if (isSeq(node) && isIndex(segment)) {
      const item = node.items[Number(segment)];
      if (item === undefined) break;
      offset = rangeStart(item) ?? offset;
      node = item;
    } else {
      break;
    }
  }
  return offset === undefined ? undefined : lineCounter.linePos(offset).line;
}

/** The line of the deepest node on `pointer` the document has; 1 when none. */
export function lineOfPointer(doc: Document, lineCounter: LineCounter, pointer: string): number {
  return lineOfPath(doc, lineCounter, pointerSegments(pointer)) ?? 1;
}

/** The YAML node at `pointer`, for slicing its source (an inline policy). */
export function nodeAtPointer(doc: Document, pointer: string): unknown {
  let node: unknown = doc.contents;
  for (const segment of pointerSegments(pointer)) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) node = node.items.find((item) => keyText(item.key) === segment)?.value;
    else if (isSeq(node) && isIndex(segment)) node = node.items[Number(segment)];
    else return undefined;
    if (node === undefined) return undefined;
  }
  return node;
}

/** A list index: a number (a path) or a string of digits (a JSON pointer). */
function isIndex(segment: string | number): boolean {
  return typeof segment === 'number' || /^\d+$/.test(segment);
}

/** A value as a message names it: "a mapping", "a list", "nothing", or its JSON. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return JSON.stringify(value) ?? String(value);
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
