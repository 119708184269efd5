// A channel: one subscribed channel of a connection. It feeds its cache
// (cache.ts, pure) what the connection hears and acts on what the cache
// returns: it announces changes to the listeners, fetches snapshots and
// verifies records over HTTP. The Go client's twin is channelCache in
// ssotws/client/channel.go.

import { equals, fromBinary } from "@bufbuild/protobuf";
import type { Message } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { ErrorCode, Event, Position } from "../gen/ssot/ws/v1/frame_pb.js";
import { ChannelCache } from "./cache.js";
import { mergeDelta } from "./delta.js";
import type { CacheResult, Change, Mark, Snapshot } from "./cache.js";
import type { ListParams } from "./client.js";
import type { HttpClient } from "./http.js";
import { belongsTo, keyText, mustField, parseChannel, parseFieldText, versionOf } from "./model.js";
import { hasParent, parentScope } from "./resourcename.js";
import type { ChannelName, Key } from "./model.js";
import { backoffDelay } from "./backoff.js";
import type { Connection } from "./conn.js";
import { localId, localWritesOf } from "./local.js";
import { resolveOptions } from "./options.js";
import type { ChannelOptions } from "./options.js";
import type { ChannelSink } from "./router.js";

export type { ChannelOptions } from "./options.js";

/** SubscribeOptions are the hybrid client's additions to subscribe. */
export interface SubscribeOptions {
  /** onSync is called each time the channel is (re)hydrated: read it again. */
  readonly onSync?: () => void;
  /** onError hears a refused subscription or a failed hydration fetch. */
  readonly onError?: (err: unknown) => void;
}

/**
 * SubscriptionError is what onError hears when the gateway refuses a
 * channel, or drops it after a token refresh (Go: the error of
 * SubscriptionError(channel), matching ErrSubscriptionDropped when dropped).
 */
export class SubscriptionError extends Error {
  constructor(
    readonly channel: string,
    readonly code: ErrorCode,
    message: string,
  ) {
    super(`ssotws: subscribe ${channel}: ${message}`);
    this.name = "SubscriptionError";
  }
}

/** @deprecated SubscribeError is the former name of {@link SubscriptionError}. */
export const SubscribeError = SubscriptionError;
/** @deprecated SubscribeError is the former name of {@link SubscriptionError}. */
export type SubscribeError = SubscriptionError;


export interface Listener<T> {
  readonly cb: (change: Change<T>) => void;
  readonly opts: SubscribeOptions | undefined;
}

// One LiveChannel per channel and connection, shared by every hybrid client
// of that connection.
const registries = new WeakMap<Connection, Map<string, LiveChannel<Message>>>();

/** retryable: a failed read that may succeed later (no answer, a restarting server). */
function retryable(err: unknown): boolean {
  const c = ConnectError.from(err).code;
  return c !== Code.PermissionDenied && c !== Code.Unauthenticated && c !== Code.InvalidArgument && c !== Code.NotFound;
}

/** registryOf returns the channels of a connection. */
export function registryOf(conn: Connection): Map<string, LiveChannel<Message>> {
  let r = registries.get(conn);
  if (!r) registries.set(conn, (r = new Map()));
  return r;
}

/** LiveChannel ties a channel's cache to the connection and to HTTP. */
export class LiveChannel<T extends Message> implements ChannelSink {
  readonly cache: ChannelCache<T>;
  readonly listeners = new Set<Listener<T>>();
  readonly parsed: ChannelName;
  private synced = false;
  /** subPos is the position of the current subscription's Ack or Reset. */
  private subPos: Position | undefined;
  private fetchGen = 0;
  private failures = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  private unsubscribe: () => void = () => {};
  /** failure is why the gateway refused or dropped the subscription, until the next Ack. */
  failure: SubscriptionError | undefined;
  /** wakers are called at each change of live, failure or closed (waitHydrated). */
  private readonly wakers = new Set<() => void>();

  constructor(
    readonly channel: string,
    private readonly http: HttpClient<T, Key>,
    private readonly conn: Connection,
    private readonly opts: ChannelOptions,
  ) {
    const model = http.model;
    this.parsed = parseChannel(channel);
    this.cache = new ChannelCache<T>(channel, {
      decode: (data) => fromBinary(model.schema, data),
      keyOf: (v) => keyText(model, v),
      versionOf: (v) => versionOf(model, v),
      hasVersion: model.version !== undefined,
      member: (v) => belongsTo(model, this.parsed, v),
      equals: (a, b) => equals(model.schema, a, b),
      merge: (base, partial, paths) => mergeDelta(model.schema, base, partial, paths),
    });
  }

  start(): void {
    this.cache.beginHydration();
    this.unsubscribe = this.conn.subscribe(this.channel, this);
  }

  /** live: hydrated, acknowledged on the current socket, and the socket is open. */
  get live(): boolean {
    return this.cache.hydrated && this.synced && this.conn.state === "open";
  }

  /** isClosed: every subscriber left; the channel is unsubscribed. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** changed returns a promise settled at the next change of live, failure or closed. */
  changed(): Promise<void> {
    return new Promise((r) => {
      const wake = () => {
        this.wakers.delete(wake);
        r();
      };
      this.wakers.add(wake);
    });
  }

  private wake(): void {
    for (const w of [...this.wakers]) w();
  }

  close(): void {
    this.closed = true;
    this.wake();
    this.fetchGen++;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.unsubscribe();
    this.cache.reset();
  }

  // --- ChannelSink

  since(): Position | undefined {
    return this.cache.hydrated ? this.cache.position : undefined;
  }

  onAck(position: Position | undefined, resumed: boolean): void {
    this.synced = true;
    this.failure = undefined;
    if (position) this.subPos = position;
    const held = this.cache.position;
    const epochMoved = position && held && position.epoch !== held.epoch;
    if (!resumed || !this.cache.hydrated || epochMoved) this.refetch();
    else this.emitSync(); // resumed: the replay follows; readers may use the cache again
  }

  onReset(position: Position | undefined): void {
    this.synced = true;
    this.failure = undefined;
    this.subPos = position;
    this.refetch();
  }

  onEvents(events: Event[]): void {
    this.settle(this.cache.receive(events));
  }

  /** settle announces a cache result and acts on its requests. */
  private settle(r: CacheResult<T>): boolean {
    this.emit(r.changes);
    for (const v of r.verify ?? []) void this.verify(v.key);
    for (const key of r.reread ?? []) void this.reread(key);
    if (r.refetch) this.refetch();
    return !r.refetch;
  }

  /**
   * verify reads one record over HTTP and lets the cache correct itself. An
   * answer that overlapped one of this client's own mutations of the record
   * is set aside until the mutation ends: if it succeeded, its response and
   * its event are authoritative and the answer is dropped; if every such
   * mutation failed, none changed the record, and it is read again. A Get
   * that got no answer (a cut connection, a restarting server) is sent
   * again after a backoff, until the subscription ends or a refetch
   * supersedes the check: a ghost that left a scope channel hears no later
   * event that would remove it.
   */
  private async verify(key: string): Promise<void> {
    const gen = this.fetchGen;
    const local = localWritesOf(this.conn);
    const id = localId(this.http.model.name, key);
    const w = local.watch(id);
    let failures = 0;
    try {
      for (;;) {
        if (gen !== this.fetchGen || this.closed) return;
        const held = this.cache.holding(key);
        if (!held) return;
        local.arm(id, w);
        let value: T | undefined;
        try {
          value = (await this.http.getWithPosition(key)).value;
        } catch {
          await new Promise((r) => setTimeout(r, backoffDelay(failures++, this.opts.backoff)));
          continue;
        }
        if (gen !== this.fetchGen || this.closed) return;
        if (w.overlapped) {
          if (await local.settle(id, w)) return;
          continue;
        }
        const r = this.cache.verified(key, held, value);
        if (r.change) this.emit([r.change]);
        if (!r.again) return;
      }
    } finally {
      local.unwatch(id, w);
    }
  }

  /**
   * reread reads a record over HTTP after a delta the cache could not
   * apply (it held another version than the delta's base) and applies the
   * answer by the version rule. A Get that got no answer is sent again
   * after a backoff until the subscription ends or a refetch (whose
   * snapshot holds the record) supersedes it. The Go twin is
   * channelCache.reread.
   */
  private async reread(key: string): Promise<void> {
    const gen = this.fetchGen;
    const generation = this.cache.generationNow;
    for (let failures = 0; ; failures++) {
      if (gen !== this.fetchGen || this.closed) return;
      let value: T | undefined;
      try {
        value = (await this.http.getWithPosition(key)).value;
      } catch (err) {
        if (!retryable(err)) return; // the client may not read it (any more)
        await new Promise((r) => setTimeout(r, backoffDelay(failures, this.opts.backoff)));
        continue;
      }
      if (gen !== this.fetchGen || this.closed) return;
      const c = this.cache.reread(key, value, generation);
      if (c) this.emit([c]);
      return;
    }
  }

  onError(code: ErrorCode, message: string): void {
    this.synced = false;
    this.fetchGen++;
    const err = new SubscriptionError(this.channel, code, message);
    this.failure = err;
    this.wake();
    for (const l of [...this.listeners]) l.opts?.onError?.(err);
  }

  onDisconnect(): void {
    this.synced = false;
  }

  // --- hydration

  /** refetch runs steps 2–5 of hydration: buffer, fetch, put, apply. */
  refetch(): void {
    if (this.closed) return;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.cache.beginHydration();
    const gen = ++this.fetchGen;
    this.fetchSnapshot().then(
      (got) => {
        if (gen !== this.fetchGen || this.closed) return;
        // Without a position header, the subscription's own position is
        // the best lower bound, as in the Go client.
        const snap = got.position || !this.subPos ? got : { ...got, position: this.subPos };
        this.failures = 0;
        if (this.settle(this.cache.hydrate(snap))) this.emitSync();
      },
      (err: unknown) => {
        if (gen !== this.fetchGen || this.closed) return;
        for (const l of [...this.listeners]) l.opts?.onError?.(err);
        const delay = backoffDelay(this.failures++, this.opts.backoff);
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          if (gen === this.fetchGen && !this.closed) this.refetch();
        }, delay);
      },
    );
  }

  private async fetchSnapshot(): Promise<Snapshot<T>> {
    const p = this.parsed;
    if (p.kind === "item") {
      const got = await this.http.getWithPosition(p.key);
      return {
        items: got.value ? [got.value] : [],
        position: got.channel === undefined || got.channel === this.channel ? got.position : undefined,
      };
    }
    const model = this.http.model;
    const filter: Record<string, unknown> = {};
    const parent = p.kind === "scope" && p.field === parentScope && hasParent(model) ? p.value : undefined;
    if (p.kind === "scope" && parent === undefined) {
      filter[mustField(model.schema, p.field).localName] = parseFieldText(mustField(model.schema, p.field), p.value);
    }
    const limit = resolveOptions(this.opts).hydrationLimit;
    const items: T[] = [];
    let position: Position | undefined;
    let token = "";
    for (let page = 0; ; page++) {
      const base: ListParams<T> = {
        filter: filter as ListParams<T>["filter"] & object,
        pageSize: limit - items.length,
        ...(parent === undefined ? {} : { parent }),
      };
      const params: ListParams<T> = token ? { ...base, pageToken: token } : base;
      const got = await this.http.listPage(params);
      if (page === 0) {
        // The first page's position is the earliest: events after it are
        // applied on top, versions make the overlap with later pages harmless.
        position = got.channel === undefined || got.channel === this.channel ? got.position : undefined;
      }
      items.push(...got.value.items.slice(0, limit - items.length));
      token = got.value.nextPageToken;
      if (!token || items.length >= limit) break;
    }
    return { items, position, truncated: token !== "" };
  }

  // --- notification

  private emit(changes: Change<T>[]): void {
    if (changes.length === 0) return;
    for (const l of [...this.listeners]) for (const c of changes) l.cb(c);
  }

  emitSync(): void {
    this.wake();
    for (const l of [...this.listeners]) l.opts?.onSync?.();
  }

  applyLocal(value: T, requestId: string, mark: Mark | undefined): void {
    const c = this.cache.applyLocal(value, requestId, mark);
    if (c) this.emit([c]);
  }

  applyLocalDelete(key: string, requestId: string, mark: Mark | undefined): void {
    const c = this.cache.applyLocalDelete(key, requestId, mark);
    if (c) this.emit([c]);
  }
}

