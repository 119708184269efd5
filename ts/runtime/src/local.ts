// Own writes in flight: the mutations the hybrid clients of one connection
// have sent and not yet applied, so that a channel's verify check never
// fights them. The Go client's twin is ssotws/client/local.go.

import type { Connection } from "./conn.js";

/** WriteWatch is one verify's view of a record's local mutations. */
export interface WriteWatch {
  /** overlapped: a local mutation of the record was in flight since the watch was armed. */
  overlapped: boolean;
  /** applied: one of those succeeded; its outcome is (or will be, by its event) in the caches. */
  applied: boolean;
}

interface KeyWrites {
  inflight: number;
  idle: (() => void)[];
  readonly watches: Set<WriteWatch>;
}

/**
 * LocalWrites tracks, per record, the mutations the hybrid clients of one
 * connection have in flight, so that a channel's verify check never fights
 * the client's own writes: a verify Get that overlaps one of them cannot
 * tell its answer from the mutation's own effect, and the mutation's
 * response (or its event) is authoritative for the record.
 */
export class LocalWrites {
  private readonly keys = new Map<string, KeyWrites>();

  private entry(id: string): KeyWrites {
    let k = this.keys.get(id);
    if (!k) this.keys.set(id, (k = { inflight: 0, idle: [], watches: new Set() }));
    return k;
  }

  private drop(id: string, k: KeyWrites): void {
    if (k.inflight === 0 && k.watches.size === 0) this.keys.delete(id);
  }

  /**
   * begin records a mutation of id about to be sent; call the result once
   * its outcome was applied, with whether it succeeded and, for a create
   * whose key the server chose, the record's id.
   */
  begin(id: string): (applied: boolean, final?: string) => void {
    const k = this.entry(id);
    k.inflight++;
    for (const w of k.watches) w.overlapped = true;
    let done = false;
    return (applied, final) => {
      if (done) return;
      done = true;
      if (applied) {
        for (const w of k.watches) w.applied = true;
        const f = final !== undefined && final !== id ? this.keys.get(final) : undefined;
        for (const w of f?.watches ?? []) {
          w.overlapped = true;
          w.applied = true;
        }
      }
      if (--k.inflight === 0) {
        const idle = k.idle;
        k.idle = [];
        for (const r of idle) r();
      }
      this.drop(id, k);
    };
  }

  watch(id: string): WriteWatch {
    const w: WriteWatch = { overlapped: false, applied: false };
    this.entry(id).watches.add(w);
    return w;
  }

  unwatch(id: string, w: WriteWatch): void {
    const k = this.keys.get(id);
    if (!k) return;
    k.watches.delete(w);
    this.drop(id, k);
  }

  /** arm resets w before a verify Get: overlapped if a mutation is in flight. */
  arm(id: string, w: WriteWatch): void {
    w.overlapped = (this.keys.get(id)?.inflight ?? 0) > 0;
    w.applied = false;
  }

  /** settle waits until no mutation of id is in flight and says whether one that overlapped w succeeded. */
  async settle(id: string, w: WriteWatch): Promise<boolean> {
    for (;;) {
      const k = this.keys.get(id);
      if (!k || k.inflight === 0) return w.applied;
      await new Promise<void>((r) => k.idle.push(r));
    }
  }
}

const localWrites = new WeakMap<Connection, LocalWrites>();

/** localWritesOf returns the LocalWrites of a connection. */
export function localWritesOf(conn: Connection): LocalWrites {
  let l = localWrites.get(conn);
  if (!l) localWrites.set(conn, (l = new LocalWrites()));
  return l;
}

/** localId is the key of a record of a model in LocalWrites. */
export function localId(model: string, key: string): string {
  return `${model}\u0000${key}`;
}
