/**
 * The named links of one local topology (device-mec, mec-cloud): what `mec link` and the link
 * control API act on. Closing it closes every link.
 */
import { EdgeError } from '../core/errors.ts';
import type { LinkSettings } from './link-settings.ts';
import { LinkProxy, type LinkStats } from './link-proxy.ts';

export interface LinkDefinition {
  listenHost?: string;
  listenPort: number;
  targetHost: string;
  targetPort: number;
  settings: Partial<LinkSettings>;
}

export class LinkSet {
  private readonly links = new Map<string, LinkProxy>();
  private closing: Promise<void> | undefined;

  /** Creates and starts a link; resolves with the port it listens on. */
  async add(name: string, definition: LinkDefinition): Promise<{ port: number }> {
    if (this.closing !== undefined) throw new EdgeError('EDGE_ERR_SHUTTING_DOWN', `the link set is closing: link ${name} was not added`);
    if (this.links.has(name)) throw new EdgeError('EDGE_ERR_CONFIG_INVALID', `link ${name} is defined twice: give each link its own name`);
    const link = new LinkProxy({ name, ...definition });
    this.links.set(name, link);
    try {
      return await link.start();
    } catch (error) {
      this.links.delete(name);
      await link.close();
      throw error;
    }
  }

  get(name: string): LinkProxy {
    const link = this.links.get(name);
    if (link === undefined) {
      const known = [...this.links.keys()];
      throw new EdgeError('EDGE_ERR_LINK_NOT_FOUND', `no link named ${JSON.stringify(name)}: the links are ${known.length > 0 ? known.join(', ') : '(none)'}`, { details: { link: name, known } });
    }
    return link;
  }

  /**
   * Applies the settings at once and resolves with the link's stats when its listening socket has
   * caught up with the mode, or after `settleTimeoutMs` (then `listening` in the stats tells).
   */
  async set(name: string, partial: Partial<LinkSettings>, settleTimeoutMs = 3000): Promise<LinkStats> {
    const link = this.get(name);
    link.set(partial);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, settleTimeoutMs);
    });
    await Promise.race([link.settled(), timeout]);
    clearTimeout(timer);
    return link.stats();
  }

  show(): LinkStats[] {
    return [...this.links.values()].map((link) => link.stats());
  }

  /** Idempotent. */
  close(): Promise<void> {
    this.closing ??= Promise.all([...this.links.values()].map((link) => link.close())).then(() => undefined);
    return this.closing;
  }
}
