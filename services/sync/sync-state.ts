/**
 * The edge's durable sync record, <cacheDir>/state.json: per resource the version it holds (written
 * before the version is loaded and acknowledged: at least once, never acknowledged unpersisted) and
 * the newest version it rejected (not tried again until the cloud publishes a newer one). Written
 * atomically (tmp + fsync + rename + fsync of the folder).
 */
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from './atomic-file.ts';
import { parseVersion } from './resources.ts';

export interface HeldRecord {
  version: number;
  sha256: string;
  at: string;
}

export interface RejectedRecord {
  version: number;
  sha256: string;
  code: string;
  message: string;
  at: string;
}

interface StateFile {
  format: 1;
  held: Record<string, HeldRecord>;
  rejected: Record<string, RejectedRecord>;
}

const STATE_FILE = 'state.json';

export class SyncState {
  #state: StateFile = { format: 1, held: {}, rejected: {} };
  /** Saves run one after another, so an older snapshot never overwrites a newer one. */
  #saving: Promise<void> = Promise.resolve();

  private constructor(readonly folder: string) {}

  /** Reads the state (a missing or unreadable file starts empty: the repository still serves). */
  static async open(folder: string): Promise<SyncState> {
    await mkdir(folder, { recursive: true });
    const state = new SyncState(folder);
    try {
      const raw = JSON.parse(await readFile(path.join(folder, STATE_FILE), 'utf8')) as Partial<StateFile>;
      for (const [key, record] of Object.entries(raw.held ?? {})) {
        if (parseVersion(record?.version) !== undefined && typeof record.sha256 === 'string') state.#state.held[key] = record;
      }
      for (const [key, record] of Object.entries(raw.rejected ?? {})) {
        if (parseVersion(record?.version) !== undefined && typeof record.code === 'string') state.#state.rejected[key] = record;
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' && !(error instanceof SyntaxError)) throw error;
    }
    return state;
  }

  held(key: string): HeldRecord | undefined {
    return this.#state.held[key];
  }

  rejected(key: string): RejectedRecord | undefined {
    return this.#state.rejected[key];
  }

  snapshot(): Readonly<StateFile> {
    return structuredClone(this.#state);
  }

  async recordHeld(key: string, version: number, sha256: string): Promise<void> {
    this.#state.held[key] = { version, sha256, at: new Date().toISOString() };
    await this.#save();
  }

  /** A rejection; `restored` is what is held again (the version that keeps serving), if known. */
  async recordRejected(key: string, rejection: Omit<RejectedRecord, 'at'>, restored: HeldRecord | undefined): Promise<void> {
    this.#state.rejected[key] = { ...rejection, at: new Date().toISOString() };
    if (restored) this.#state.held[key] = restored;
    else delete this.#state.held[key];
    await this.#save();
  }

  #save(): Promise<void> {
    const text = `${JSON.stringify(this.#state, null, 2)}\n`;
    const run = this.#saving.then(() => writeFileAtomic(path.join(this.folder, STATE_FILE), text));
    this.#saving = run.catch(() => undefined);
    return run;
  }
}
