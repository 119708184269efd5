// The cache of one subscribed channel: the version rule, tombstones, and
// gap-free hydration (docs/client-semantics.md). It does no I/O: the hybrid
// client feeds it events and snapshots and acts on what it returns.

import { EventType } from "../gen/ssot/ws/v1/frame_pb.js";
import type { Event, Position } from "../gen/ssot/ws/v1/frame_pb.js";

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
}

interface Entry<T> {
  value: T;
  version: bigint;
  deleted: boolean;
}

/** Result of feeding a cache: the changes to announce, and whether to refetch. */
export interface CacheResult<T> {
  readonly changes: Change<T>[];
  /** refetch is true when the channel's epoch changed: fetch a new snapshot. */
  readonly refetch: boolean;
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
        return { changes, refetch: true };
      }
      if (this.position && e.position && e.position.offset <= this.position.offset) {
        continue; // already seen (a replay overlapping what we hold)
      }
      const c = this.applyEvent(e);
      if (c) changes.push(c);
      if (e.position) this.position = e.position;
    }
    return { changes, refetch: false };
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
      if (announce && (!was || was.deleted || was.version !== version || !this.codec.hasVersion)) {
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
    const buffered = this.buffer;
    this.buffer = [];
    for (const e of buffered) {
      if (pos && e.position && e.position.offset <= pos.offset) continue;
      const c = this.applyEvent(e);
      if (c) changes.push(c);
      if (e.position) this.position = e.position;
    }
    return { changes, refetch: false };
  }

  /** reset forgets everything: the channel is no longer subscribed. */
  reset(): void {
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
    const value = this.codec.decode(e.data);
    if (e.type === EventType.DELETED) {
      this.entries.set(e.key, { value, version: e.version, deleted: true });
      if (!held || held.deleted) return undefined; // nothing visible changed
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

  /**
   * applyLocal applies a mutation's response at once. `member` says
   * whether the record belongs on this channel; a record that left it (an
   * update moved it to another scope) is tombstoned. Without a version
   * field the value is applied and the held version kept, so that the
   * change event still applies when it comes.
   */
  applyLocal(value: T, member: boolean, requestId: string): Change<T> | undefined {
    const key = this.codec.keyOf(value);
    const held = this.entries.get(key);
    const version = this.codec.hasVersion ? this.codec.versionOf(value) : (held?.version ?? 0n);
    if (this.codec.hasVersion && held && version <= held.version) return undefined;
    if (!member) {
      if (!held || held.deleted) return undefined;
      held.deleted = true;
      held.version = version;
      return this.change("deleted", key, version, held.value, requestId);
    }
    return this.put(key, value, version, held, requestId);
  }

  /**
   * applyLocalDelete applies a successful Delete at once. The response
   * carries no version, so the tombstone keeps the held one: the DELETED
   * event that follows changes nothing visible.
   */
  applyLocalDelete(key: string, requestId: string): Change<T> | undefined {
    const held = this.entries.get(key);
    if (!held || held.deleted) return undefined;
    held.deleted = true;
    return this.change("deleted", key, held.version, held.value, requestId);
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
