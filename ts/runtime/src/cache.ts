// The cache of one subscribed channel: the version rule, tombstones, and
// gap-free hydration (docs/client-semantics.md). It does no I/O: the hybrid
// client feeds it events and snapshots and acts on what it returns.

import { EventType } from "../gen/ssot/ws/v1/frame_pb.js";
import type { Event, Position } from "../gen/ssot/ws/v1/frame_pb.js";
import { applyLocal, applyLocalDelete, holding, mark, verified } from "./cache_local.js";
import type { CacheCore } from "./cache_local.js";

/** ChangeType says how a change altered the cache. */
export type ChangeType = "created" | "updated" | "deleted";

/**
 * Change is one change of one record, as a subscriber hears it. `type` is
 * what happened to the cache: a record that enters a scope channel through
 * an update is "created" there.
 */
export interface Change<T> {
  readonly type: ChangeType;
  readonly channel: string;
  /** key is the record key in its canonical text form. */
  readonly key: string;
  readonly version: bigint;
  /** value is the record; for "deleted", its last state. */
  readonly value: T;
  /** requestId is the Idempotency-Key of the mutation that caused it ("" when unknown). */
  readonly requestId: string;
}

/** CacheCodec teaches a cache its model. */
export interface CacheCodec<T> {
  decode(data: Uint8Array): T;
  keyOf(value: T): string;
  versionOf(value: T): bigint;
  /** hasVersion is false when the model has no version field. */
  readonly hasVersion: boolean;
  /**
   * member says whether a record belongs on the channel (a scope channel:
   * its scope field has the channel's value); every record by default.
   */
  member?(value: T): boolean;
  /**
   * merge applies a delta: a copy of base with the top-level fields paths
   * names taken from partial (delta.ts); undefined when it cannot. Without
   * it a delta is never merged: the record is read again.
   */
  merge?(base: T, partial: T, paths: readonly string[]): T | undefined;
  /** equals compares two records; used when a refetch looks for differences. */
  equals?(a: T, b: T): boolean;
  /** now returns the time in milliseconds; Date.now by default. */
  now?(): number;
}

/**
 * verifyWindowMs is how long after a snapshot a record that comes to life
 * on the channel is checked over HTTP: a late event of a mutation that
 * committed before the snapshot was read (two writers' events can reach a
 * channel out of version order) would otherwise resurrect a deleted record.
 */
export const verifyWindowMs = 2000;

/** Verify asks the owner of a cache to read one record over HTTP. */
export interface Verify {
  readonly key: string;
  readonly version: bigint;
}

/** Held is what a cache holds for a key: see {@link ChannelCache.holding}. */
export interface Held {
  readonly version: bigint;
  readonly deleted: boolean;
}

/**
 * Mark is what a cache was when a mutation of a record was sent: see
 * {@link ChannelCache.mark}.
 */
export interface Mark {
  /** generation is the cache's hydration generation then. */
  readonly generation: number;
  /** held is what it held for the record then. */
  readonly held: Held | undefined;
}

/** Verified is the outcome of {@link ChannelCache.verified}. */
export interface Verified<T> {
  /** change is the correction to announce. */
  readonly change?: Change<T>;
  /** again is true when the record must be read again. */
  readonly again?: boolean;
}

export interface Entry<T> {
  value: T;
  version: bigint;
  deleted: boolean;
}

/** Result of feeding a cache: the changes to announce, and whether to refetch. */
export interface CacheResult<T> {
  readonly changes: Change<T>[];
  /** refetch is true when the channel's epoch changed: fetch a new snapshot. */
  readonly refetch: boolean;
  /** verify lists records to read over HTTP and pass to {@link ChannelCache.verified}. */
  readonly verify?: Verify[];
  /**
   * reread lists records to read over HTTP and pass to {@link ChannelCache.reread}:
   * a delta arrived for a version the cache does not hold.
   */
  readonly reread?: string[];
}

/** Snapshot is what an HTTP fetch of a channel returned. */
export interface Snapshot<T> {
  readonly items: readonly T[];
  /** position is the channel position read before the store (Ssot-Position). */
  readonly position: Position | undefined;
  /** truncated is true when the hydration limit cut the snapshot short. */
  readonly truncated?: boolean;
}

/**
 * ChannelCache holds the records of one channel. It buffers events until
 * hydrated, then applies them by the version rule.
 */
export class ChannelCache<T> {
  private entries = new Map<string, Entry<T>>();
  private buffer: Event[] = [];
  private buffering = false;
  private everHydrated = false;
  private verifyUntil = 0;
  private toVerify: Verify[] = [];
  private toReread: string[] = [];
  /** generation counts the hydrations begun (and resets): see {@link mark}. */
  private generation = 0;

  /** core is what the rules of cache_local.ts read and write. */
  private readonly core: CacheCore<T> = {
    hydrated: () => this.hydrated,
    generation: () => this.generation,
    hasVersion: () => this.codec.hasVersion,
    keyOf: (value) => this.codec.keyOf(value),
    versionOf: (value) => this.codec.versionOf(value),
    entry: (key) => this.entries.get(key),
    member: (value) => this.member(value),
    put: (key, value, version, held, requestId) => this.put(key, value, version, held, requestId),
    change: (type, key, version, value, requestId) => this.change(type, key, version, value, requestId),
  };

  /** hydrated is true once a snapshot is in and buffered events are applied. */
  hydrated = false;
  /** truncated is true when the last snapshot hit the hydration limit. */
  truncated = false;
  /** position is the position of the last event applied, or the snapshot's. */
  position: Position | undefined = undefined;

  constructor(
    readonly channel: string,
    private readonly codec: CacheCodec<T>,
  ) {}

  /**
   * beginHydration starts (or restarts) step 1 of hydration: events are
   * buffered from now on, and events buffered earlier are dropped — the
   * snapshot fetched after this call already covers them.
   */
  beginHydration(): void {
    this.generation++;
    this.hydrated = false;
    this.buffering = true;
    this.buffer = [];
  }

  /** isBuffering reports whether a snapshot is awaited. */
  get isBuffering(): boolean {
    return this.buffering;
  }

  /** receive takes the events of this channel, in order. */
  receive(events: readonly Event[]): CacheResult<T> {
    if (this.buffering) {
      this.buffer.push(...events);
      return { changes: [], refetch: false };
    }
    if (!this.hydrated) return { changes: [], refetch: false };
    const changes: Change<T>[] = [];
    for (const e of events) {
      if (this.position && e.position && e.position.epoch !== this.position.epoch) {
        this.beginHydration();
        return { changes, refetch: true, verify: this.takeVerify(), reread: this.takeReread() };
      }
      if (this.position && e.position && e.position.offset <= this.position.offset) {
        continue; // already seen (a replay overlapping what we hold)
      }
      const c = this.applyEvent(e);
      if (c) changes.push(c);
      if (e.position) this.position = e.position;
    }
    return { changes, refetch: false, verify: this.takeVerify(), reread: this.takeReread() };
  }

  private takeVerify(): Verify[] {
    const v = this.toVerify;
    this.toVerify = [];
    return v;
  }

  private takeReread(): string[] {
    const v = this.toReread;
    this.toReread = [];
    return v;
  }

  /**
   * hydrate puts a snapshot in the cache (step 3) and applies the buffered
   * events past its position (step 4). When a buffered event has another
   * epoch it starts over: refetch is true and the cache stays unhydrated.
   * The changes are the differences from what the cache held before, and
   * are empty for the first snapshot.
   */
  hydrate(snap: Snapshot<T>): CacheResult<T> {
    const pos = snap.position;
    if (pos && this.buffer.some((e) => e.position && e.position.epoch !== pos.epoch)) {
      this.beginHydration();
      return { changes: [], refetch: true };
    }
    const announce = this.everHydrated;
    const old = this.entries;
    const next = new Map<string, Entry<T>>();
    const changes: Change<T>[] = [];
    for (const value of snap.items) {
      const key = this.codec.keyOf(value);
      const version = this.codec.versionOf(value);
      next.set(key, { value, version, deleted: false });
      const was = old.get(key);
      const same = was && !was.deleted && was.version === version && (this.codec.equals?.(was.value, value) ?? this.codec.hasVersion);
      if (announce && !same) {
        changes.push(this.change(!was || was.deleted ? "created" : "updated", key, version, value, ""));
      }
    }
    for (const [key, was] of old) {
      if (next.has(key)) continue;
      // Gone from the snapshot: keep a tombstone so that a late event of
      // the old state is ignored.
      next.set(key, { value: was.value, version: was.version, deleted: true });
      if (announce && !was.deleted) {
        changes.push(this.change("deleted", key, was.version, was.value, ""));
      }
    }
    this.entries = next;
    this.position = pos;
    this.truncated = snap.truncated ?? false;
    this.hydrated = true;
    this.everHydrated = true;
    this.buffering = false;
    this.verifyUntil = this.now() + verifyWindowMs;
    this.toVerify = [];
    this.toReread = [];
    const buffered = this.buffer;
    this.buffer = [];
    for (const e of buffered) {
      if (pos && e.position && e.position.offset <= pos.offset) continue;
      const c = this.applyEvent(e);
      if (c) changes.push(c);
      if (e.position) this.position = e.position;
    }
    return { changes, refetch: false, verify: this.takeVerify(), reread: this.takeReread() };
  }

  private now(): number {
    return this.codec.now ? this.codec.now() : Date.now();
  }

  private member(value: T): boolean {
    return this.codec.member ? this.codec.member(value) : true;
  }

  /**
   * reread applies the answer of a read a delta asked for (see
   * {@link CacheResult.reread}) by the version rule; `generation` is
   * {@link generationNow} when the read was sent: an answer of an earlier
   * hydration is dropped (the snapshot holds the record). Undefined (not
   * found) changes nothing: the delete's event follows.
   */
  reread(key: string, value: T | undefined, generation: number): Change<T> | undefined {
    if (!this.hydrated || generation !== this.generation || value === undefined) return undefined;
    const held = this.entries.get(key);
    const v = this.codec.versionOf(value);
    if (held && v <= held.version) return undefined;
    if (!this.member(value)) {
      this.entries.set(key, { value, version: v, deleted: true });
      if (!held || held.deleted) return undefined;
      return this.change("deleted", key, v, value, "");
    }
    return this.put(key, value, v, held, "");
  }

  /** generationNow is the hydration generation, for {@link reread}. */
  get generationNow(): number {
    return this.generation;
  }

  /** reset forgets everything: the channel is no longer subscribed. */
  reset(): void {
    this.generation++;
    this.entries.clear();
    this.buffer = [];
    this.buffering = false;
    this.hydrated = false;
    this.everHydrated = false;
    this.truncated = false;
    this.position = undefined;
  }

  private change(type: ChangeType, key: string, version: bigint, value: T, requestId: string): Change<T> {
    return { type, channel: this.channel, key, version, value, requestId };
  }

  /** applyEvent applies one event by the version rule. */
  private applyEvent(e: Event): Change<T> | undefined {
    const held = this.entries.get(e.key);
    if (held && e.version <= held.version) return undefined;
    if (e.deltaMask) return this.applyDelta(e, held);
    let value: T;
    try {
      value = this.codec.decode(e.data);
    } catch {
      return undefined; // undecodable: ignored, as the Go client does
    }
    // An update that took the record out of this scope removes it here.
    if (e.type === EventType.DELETED || !this.member(value)) {
      this.entries.set(e.key, { value, version: e.version, deleted: true });
      if (!held || held.deleted) return undefined; // nothing visible changed
      return this.change("deleted", e.key, e.version, value, e.requestId);
    }
    if ((!held || held.deleted) && this.now() < this.verifyUntil) {
      this.toVerify.push({ key: e.key, version: e.version });
    }
    return this.put(e.key, value, e.version, held, e.requestId);
  }

  /** applyDelta merges a delta newer than what the cache holds (delta.ts). */
  private applyDelta(e: Event, held: Entry<T> | undefined): Change<T> | undefined {
    let value: T | undefined;
    if (held && !held.deleted && held.version === e.baseVersion && this.codec.merge) {
      try {
        value = this.codec.merge(held.value, this.codec.decode(e.data), e.deltaMask?.paths ?? []);
      } catch {
        value = undefined; // undecodable: read the record
      }
    }
    if (value === undefined) {
      this.toReread.push(e.key);
      return undefined;
    }
    if (!this.member(value)) {
      this.entries.set(e.key, { value, version: e.version, deleted: true });
      return this.change("deleted", e.key, e.version, value, e.requestId);
    }
    return this.put(e.key, value, e.version, held, e.requestId);
  }

  private put(key: string, value: T, version: bigint, held: Entry<T> | undefined, requestId: string): Change<T> {
    if (held && !held.deleted) {
      held.value = value;
      held.version = version;
      return this.change("updated", key, version, value, requestId);
    }
    // New, or re-created after a delete: it goes last, as in creation order.
    this.entries.delete(key);
    this.entries.set(key, { value, version, deleted: false });
    return this.change("created", key, version, value, requestId);
  }

  /** holding returns what the cache holds for a key, tombstones included (cache_local.ts). */
  holding(key: string): Held | undefined {
    return holding(this.core, key);
  }

  /** verified applies a verify Get's answer: `value` undefined means not found (cache_local.ts). */
  verified(key: string, held: Held, value: T | undefined): Verified<T> {
    return verified(this.core, key, held, value);
  }

  /** mark records what the cache is right before a mutation of key is sent (cache_local.ts). */
  mark(key: string): Mark | undefined {
    return mark(this.core, key);
  }

  /** applyLocal applies a mutation's response at once, by the version rule (cache_local.ts). */
  applyLocal(value: T, requestId: string, mark: Mark | undefined): Change<T> | undefined {
    return applyLocal(this.core, value, requestId, mark);
  }

  /** applyLocalDelete applies a successful Delete at once (cache_local.ts). */
  applyLocalDelete(key: string, requestId: string, mark: Mark | undefined): Change<T> | undefined {
    return applyLocalDelete(this.core, key, requestId, mark);
  }

  /** list returns the live records, in creation order. */
  list(): T[] {
    const out: T[] = [];
    for (const e of this.entries.values()) if (!e.deleted) out.push(e.value);
    return out;
  }

  /** get returns a live record, or undefined for an absent or deleted one. */
  get(key: string): T | undefined {
    const e = this.entries.get(key);
    return e && !e.deleted ? e.value : undefined;
  }

  /** versionOfKey returns the version held for key, tombstones included. */
  versionOfKey(key: string): bigint | undefined {
    return this.entries.get(key)?.version;
  }
}
