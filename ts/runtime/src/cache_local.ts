// The cache's rules for what HTTP says out of band of the channel's events:
// the answers of verify checks, and the replies of this client's own
// mutations (docs/client-semantics.md, "Gap-free hydration" and
// "Idempotent mutations"). Pure, like the rest of the cache (cache.ts); the
// Go client's twin is cache_local.go.

import type { Change, ChangeType, Entry, Held, Mark, Verified } from "./cache.js";

/** CacheCore is what these rules read and write of a {@link ChannelCache}. */
export interface CacheCore<T> {
  hydrated(): boolean;
  generation(): number;
  hasVersion(): boolean;
  keyOf(value: T): string;
  versionOf(value: T): bigint;
  entry(key: string): Entry<T> | undefined;
  member(value: T): boolean;
  put(key: string, value: T, version: bigint, held: Entry<T> | undefined, requestId: string): Change<T>;
  change(type: ChangeType, key: string, version: bigint, value: T, requestId: string): Change<T>;
}

/**
 * holding returns what the cache holds for a key (tombstones included),
 * for {@link verified}: take it right before the verify Get is sent.
 */
export function holding<T>(c: CacheCore<T>, key: string): Held | undefined {
  const e = c.entry(key);
  return e ? { version: e.version, deleted: e.deleted } : undefined;
}

/**
 * verified corrects a record that an event brought to life just after a
 * snapshot (see {@link verifyWindowMs}) with what HTTP says now: `value`
 * undefined means it does not exist. `held` is what {@link holding}
 * returned when the Get was sent. A found record carries its version and
 * is applied by the version rule. "Not found" carries none: it is applied
 * only when the cache still holds what it held then (every write the
 * cache knew of committed before the Get read the store, so the deletion
 * is newer); when an event changed the record meanwhile, `again` asks
 * for another Get. The caller sets aside answers that overlapped the
 * client's own mutations of the record (the hybrid client does).
 */
export function verified<T>(c: CacheCore<T>, key: string, held: Held, value: T | undefined): Verified<T> {
  if (!c.hydrated()) return {};
  const now = c.entry(key);
  if (!now) return {};
  if (value === undefined) {
    if (now.deleted) return {};
    if (now.version !== held.version || now.deleted !== held.deleted) return { again: true };
    now.deleted = true;
    return { change: c.change("deleted", key, now.version, now.value, "") };
  }
  const v = c.versionOf(value);
  if (v <= now.version) return {};
  if (!c.member(value)) {
    if (now.deleted) {
      now.version = v;
      return {};
    }
    now.deleted = true;
    now.version = v;
    now.value = value;
    return { change: c.change("deleted", key, v, value, "") };
  }
  return { change: c.put(key, value, v, now, "") };
}

/**
 * mark records, right before a mutation of key is sent, what the cache is
 * then; {@link applyLocal} and {@link applyLocalDelete} take it. Undefined
 * when the cache is not hydrated.
 */
export function mark<T>(c: CacheCore<T>, key: string): Mark | undefined {
  return c.hydrated() ? { generation: c.generation(), held: holding(c, key) } : undefined;
}

/**
 * applyLocal applies a mutation's response at once, by the version rule.
 * A record that no longer belongs here (an update moved it to another
 * scope) is tombstoned. Without a version field nothing is applied:
 * events alone can order the change.
 *
 * It applies only to the hydration the mutation was sent under (`mark`).
 * A snapshot fetched meanwhile knows nothing of what happened to the
 * record before it was read: a response older than the snapshot (a
 * retried mutation's replayed reply, the record deleted since) would
 * bring a deleted record back, with no tombstone to stop it. The
 * snapshot, or the mutation's event after it, brings the change instead.
 */
export function applyLocal<T>(c: CacheCore<T>, value: T, requestId: string, mark: Mark | undefined): Change<T> | undefined {
  if (!c.hydrated() || !c.hasVersion() || mark?.generation !== c.generation()) return undefined;
  const key = c.keyOf(value);
  const held = c.entry(key);
  const version = c.versionOf(value);
  if (held && version <= held.version) return undefined;
  if (!c.member(value)) {
    if (!held || held.deleted) return undefined;
    held.deleted = true;
    held.version = version;
    held.value = value;
    return c.change("deleted", key, version, value, requestId);
  }
  return c.put(key, value, version, held, requestId);
}

/**
 * applyLocalDelete applies a successful Delete at once. The response
 * carries no version: the tombstone takes the version after the one the
 * cache held when the Delete was sent (`mark`), at most the DELETED
 * event's, so that event changes nothing. When the record changed
 * meanwhile (an event, a snapshot), nothing is applied: the cache may
 * hold a state newer than the deletion (the record re-created by another
 * writer), and the events order it.
 */
export function applyLocalDelete<T>(c: CacheCore<T>, key: string, requestId: string, mark: Mark | undefined): Change<T> | undefined {
  if (!c.hydrated() || mark?.generation !== c.generation()) return undefined;
  const before = mark.held;
  const held = c.entry(key);
  if (!held || held.deleted || !before || before.deleted || held.version !== before.version) return undefined;
  held.deleted = true;
  held.version += 1n;
  return c.change("deleted", key, held.version, held.value, requestId);
}
