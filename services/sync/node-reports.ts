/**
 * The cloud's record of what each edge said (acks) and when it was last heard from (acks and
 * manifest polls): the operator's view, GET /v1/sync/nodes. Bounded: past MAX_NODES the node heard
 * from longest ago is forgotten.
 */
import type { AckBody, ResourceRef } from './resources.ts';
import { keyOf } from './resources.ts';

export const MAX_NODES = 1024;

export interface NodeReport {
  node: string;
  lastContact: string;
  /** Per resource (kind/name): the newest version the edge applied. */
  applied: Record<string, number>;
  /** Per resource: the newest version the edge rejected, with its code. */
  rejected: Record<string, { version: number; code: string; message: string }>;
}

export class NodeReports {
  readonly #nodes = new Map<string, NodeReport>();

  contact(node: string, at = new Date()): NodeReport {
    let report = this.#nodes.get(node);
    if (report) {
      this.#nodes.delete(node); // re-inserted last: the map's order is least recently heard first
    } else {
      report = { node, lastContact: at.toISOString(), applied: {}, rejected: {} };
      if (this.#nodes.size >= MAX_NODES) this.#nodes.delete(this.#nodes.keys().next().value as string);
    }
    report.lastContact = at.toISOString();
    this.#nodes.set(node, report);
    return report;
  }

  ack(body: AckBody): NodeReport {
    const report = this.contact(body.node);
    const newer = (table: Record<string, { version: number } | number>, ref: ResourceRef): boolean => {
      const held = table[keyOf(ref)];
      return held === undefined || (typeof held === 'number' ? held : held.version) <= ref.version;
    };
    for (const ref of body.applied) {
      if (newer(report.applied, ref)) report.applied[keyOf(ref)] = ref.version;
    }
    for (const rejection of body.rejected) {
      if (newer(report.rejected, rejection)) report.rejected[keyOf(rejection)] = { version: rejection.version, code: rejection.code, message: rejection.message };
    }
    return report;
  }

  list(): NodeReport[] {
    return [...this.#nodes.values()].sort((a, b) => a.node.localeCompare(b.node));
  }
}
