// The hybrid DataClient: HTTP for mutations and for what the cache cannot
// answer, the shared WebSocket and its per-channel caches for the rest
// (docs/client-semantics.md, "Transports").

import { equals, fromBinary } from "@bufbuild/protobuf";
import type { Message } from "@bufbuild/protobuf";
import type { Transport } from "@connectrpc/connect";
import type { ErrorCode, Event, Position } from "../gen/ssot/ws/v1/frame_pb.js";
import { ChannelCache } from "./cache.js";
import type { CacheResult, Change, Mark, Snapshot } from "./cache.js";
import type { DataClient, Init, ListPage, ListParams } from "./client.js";
import { createHttpClient, newRequestId } from "./http.js";
import type { HttpClient, HttpClientOptions } from "./http.js";
import {
  belongsTo,
  fieldByName,
  formatScalar,
  isZero,
  itemChannel,
  keyText,
  modelChannel,
  mustField,
  parseChannel,
  parseFieldText,
  scopeChannel,
  versionOf,
} from "./model.js";
import type { ChannelName, Key, ModelDescriptor } from "./model.js";
import { backoffDelay } from "./backoff.js";
import type { BackoffOptions } from "./backoff.js";
import type { Connection } from "./conn.js";
import type { ChannelSink } from "./router.js";
import type { ConnectionState } from "./state.js";

/** HybridOptions configure {@link createHybridClient}. */
export interface HybridOptions extends HttpClientOptions {
  /** transport is the Connect transport of the model's service. */
  readonly transport: Transport;
  /** connection is the app's shared WebSocket connection; without it the client is HTTP-only. */
  readonly connection?: Connection | undefined;
  /** hydrationLimit bounds the records fetched to hydrate a list channel; 1000 by default. */
  readonly hydrationLimit?: number;
  /** backoff paces retries of a failed hydration fetch. */
  readonly backoff?: BackoffOptions;
}

/** SubscribeOptions are the hybrid client's additions to subscribe. */
export interface SubscribeOptions {
  /** onSync is called each time the channel is (re)hydrated: read it again. */
  readonly onSync?: () => void;
  /** onError hears a refused subscription or a failed hydration fetch. */
  readonly onError?: (err: unknown) => void;
}

/** SubscribeError is what onError hears when the gateway refuses a channel. */
export class SubscribeError extends Error {
  constructor(
    readonly channel: string,
    readonly code: ErrorCode,
    message: string,
  ) {
    super(`ssotws: subscribe ${channel}: ${message}`);
    this.name = "SubscribeError";
  }
}

/** HybridClient is the DataClient generated code hands out. */
export interface HybridClient<T extends Message, K extends Key = Key> extends DataClient<T, K> {
  readonly model: ModelDescriptor<T, K>;
  readonly http: HttpClient<T, K>;
  readonly connection: Connection | undefined;
  /** state is the connection's state, "unavailable" without one. */
  readonly state: ConnectionState;
  subscribe(channel: string, cb: (change: Change<T>) => void, opts?: SubscribeOptions): () => void;
  /** channelFor returns the channel a List with params maps onto, if any. */
  channelFor(params?: ListParams<T>): string | undefined;
  /** isLive reports whether a channel's cache can answer reads now. */
  isLive(channel: string): boolean;
  /** peekList answers a List from the cache, or returns undefined when it cannot. */
  peekList(params?: ListParams<T>): ListPage<T> | undefined;
  /** peekGet answers a Get from the cache ({ value: undefined } for an absent record), or returns undefined. */
  peekGet(key: K): { readonly value: T | undefined } | undefined;
}

interface Listener<T> {
  readonly cb: (change: Change<T>) => void;
  readonly opts: SubscribeOptions | undefined;
}

// One LiveChannel per channel and connection, shared by every hybrid client
// of that connection.
const registries = new WeakMap<Connection, Map<string, LiveChannel<Message>>>();

/** WriteWatch is one verify's view of a record's local mutations. */
interface WriteWatch {
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
class LocalWrites {
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

function localWritesOf(conn: Connection): LocalWrites {
  let l = localWrites.get(conn);
  if (!l) localWrites.set(conn, (l = new LocalWrites()));
  return l;
}

function localId(model: string, key: string): string {
  return `${model}\u0000${key}`;
}

function registryOf(conn: Connection): Map<string, LiveChannel<Message>> {
  let r = registries.get(conn);
  if (!r) registries.set(conn, (r = new Map()));
  return r;
}

/** LiveChannel ties a channel's cache to the connection and to HTTP. */
class LiveChannel<T extends Message> implements ChannelSink {
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

  constructor(
    readonly channel: string,
    private readonly http: HttpClient<T, Key>,
    private readonly conn: Connection,
    private readonly opts: HybridOptions,
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

  close(): void {
    this.closed = true;
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
    if (position) this.subPos = position;
    const held = this.cache.position;
    const epochMoved = position && held && position.epoch !== held.epoch;
    if (!resumed || !this.cache.hydrated || epochMoved) this.refetch();
    else this.emitSync(); // resumed: the replay follows; readers may use the cache again
  }

  onReset(position: Position | undefined): void {
    this.synced = true;
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

  onError(code: ErrorCode, message: string): void {
    this.synced = false;
    this.fetchGen++;
    const err = new SubscribeError(this.channel, code, message);
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
    if (p.kind === "scope") {
      filter[mustField(model.schema, p.field).localName] = parseFieldText(mustField(model.schema, p.field), p.value);
    }
    const limit = this.opts.hydrationLimit ?? 1000;
    const items: T[] = [];
    let position: Position | undefined;
    let token = "";
    for (let page = 0; ; page++) {
      const params: ListParams<T> = token
        ? { filter: filter as ListParams<T>["filter"] & object, pageSize: limit - items.length, pageToken: token }
        : { filter: filter as ListParams<T>["filter"] & object, pageSize: limit - items.length };
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

const noop = () => {};

/**
 * createHybridClient returns a model's hybrid DataClient. Without a
 * connection, or for a model that is not realtime, it is HTTP-only:
 * subscribe does nothing and the state reads "unavailable".
 */
export function createHybridClient<T extends Message, K extends Key>(
  model: ModelDescriptor<T, K>,
  options: HybridOptions,
): HybridClient<T, K> {
  const http = createHttpClient(model, options.transport, options);
  const conn = model.realtime ? options.connection : undefined;
  const makeId = options.newRequestId ?? newRequestId;
  const registry = conn ? registryOf(conn) : undefined;

  function liveOf(channel: string): LiveChannel<T> | undefined {
    const l = registry?.get(channel) as LiveChannel<T> | undefined;
    return l?.live ? l : undefined;
  }

  function modelChannels(): LiveChannel<T>[] {
    const out: LiveChannel<T>[] = [];
    for (const l of registry?.values() ?? []) {
      if (l.parsed.model === model.name) out.push(l as unknown as LiveChannel<T>);
    }
    return out;
  }

  // Marks are what each of the model's caches was when a mutation was
  // sent: its outcome is applied only to the hydration it was sent under.
  type Marks = Map<LiveChannel<T>, Mark | undefined>;

  function applyLocal(value: T, requestId: string, marks: Marks) {
    for (const l of modelChannels()) l.applyLocal(value, requestId, marks.get(l));
  }

  // mutating runs a mutation of the record with key text (see LocalWrites),
  // apply applying its outcome to the caches before it counts as ended.
  async function mutating<R>(
    key: string,
    call: () => Promise<R>,
    apply: (r: R, marks: Marks) => { applied: boolean; key?: string },
  ): Promise<R> {
    const local = conn ? localWritesOf(conn) : undefined;
    const marks: Marks = new Map(modelChannels().map((l) => [l, l.cache.mark(key)]));
    const end = local?.begin(localId(model.name, key));
    let r: R;
    try {
      r = await call();
    } catch (err) {
      end?.(false);
      throw err;
    }
    const out = apply(r, marks);
    end?.(out.applied, out.key === undefined ? undefined : localId(model.name, out.key));
    return r;
  }

  function initKey(data: Init<T>): string {
    const f = mustField(model.schema, model.key);
    return formatScalar((data as Record<string, unknown>)[f.localName] ?? "");
  }

  const client: HybridClient<T, K> = {
    model,
    http,
    connection: conn,
    get state(): ConnectionState {
      return conn ? conn.state : "unavailable";
    },

    channelFor(params) {
      const set = Object.entries(params?.filter ?? {}).filter(([, v]) => !isZero(v));
      if (set.length === 0) return modelChannel(model);
      if (set.length > 1) return undefined;
      const [name, value] = set[0]!;
      const f = fieldByName(model.schema, name);
      if (!f || !model.scopes.includes(f.name)) return undefined;
      return scopeChannel(model, f.name, value);
    },

    isLive(channel) {
      return liveOf(channel) !== undefined;
    },

    peekList(params = {}) {
      if (params.pageToken) return undefined;
      const channel = client.channelFor(params);
      const live = channel === undefined ? undefined : liveOf(channel);
      if (!live || live.cache.truncated) return undefined;
      const items = live.cache.list();
      // The cache cannot mint a page token: a smaller page goes over HTTP.
      if (params.pageSize && items.length > params.pageSize) return undefined;
      return { items, nextPageToken: "" };
    },

    peekGet(key) {
      const text = formatScalar(key);
      const live = liveOf(itemChannel(model, key)) ?? liveOf(modelChannel(model));
      return live ? { value: live.cache.get(text) } : undefined;
    },

    async list(params) {
      return client.peekList(params) ?? http.list(params);
    },

    async get(key) {
      const hit = client.peekGet(key);
      return hit ? hit.value : http.get(key);
    },

    async create(data: Init<T>) {
      const requestId = makeId();
      return mutating(
        initKey(data),
        () => http.create(data, { requestId }),
        (v, marks) => {
          applyLocal(v, requestId, marks);
          return { applied: true, key: keyText(model, v) };
        },
      );
    },

    async update(key, data, paths) {
      const requestId = makeId();
      return mutating(
        formatScalar(key),
        () => http.update(key, data, paths, { requestId }),
        (v, marks) => {
          applyLocal(v, requestId, marks);
          return { applied: true };
        },
      );
    },

    async delete(key) {
      const requestId = makeId();
      const text = formatScalar(key);
      return mutating(
        text,
        () => http.delete(key, { requestId }),
        (ok, marks) => {
          if (ok) for (const l of modelChannels()) l.applyLocalDelete(text, requestId, marks.get(l));
          return { applied: ok };
        },
      );
    },

    subscribe(channel, cb, opts) {
      if (!conn || !registry) return noop;
      const parsed = parseChannel(channel);
      if (parsed.model !== model.name) {
        throw new Error(`ssotws: channel ${JSON.stringify(channel)} is not a ${model.name} channel`);
      }
      let live = registry.get(channel) as LiveChannel<T> | undefined;
      const fresh = !live;
      if (!live) {
        live = new LiveChannel<T>(channel, http as HttpClient<T, Key>, conn, options);
        registry.set(channel, live as unknown as LiveChannel<Message>);
      }
      const listener: Listener<T> = { cb, opts };
      live.listeners.add(listener);
      if (fresh) live.start();
      else if (live.live && opts?.onSync) {
        // Already hydrated: tell the newcomer it can read the cache.
        const l = live;
        queueMicrotask(() => {
          if (l.listeners.has(listener)) opts.onSync?.();
        });
      }
      let done = false;
      return () => {
        if (done) return;
        done = true;
        const l = live!;
        l.listeners.delete(listener);
        if (l.listeners.size === 0 && registry.get(channel) === (l as unknown as LiveChannel<Message>)) {
          registry.delete(channel);
          l.close();
        }
      };
    },
  };
  return client;
}
