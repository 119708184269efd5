// The WebSocket DataClient of one model: subscriptions on the shared
// connection, each with a cache hydrated over HTTP (subscribe first, then
// fetch) and kept up to date by the channel's events. list and get are
// answered only from the cache (ErrNotCached otherwise); mutations fail
// with ErrUnsupported, as they always go over HTTP (the hybrid client
// routes them). The Go client's twin is NewWebSocket in
// ssotws/client/websocket.go (docs/client-semantics.md, "Transports").

import type { Message } from "@bufbuild/protobuf";
import type { Transport } from "@connectrpc/connect";
import type { Position } from "../gen/ssot/ws/v1/frame_pb.js";
import type { Change, Mark } from "./cache.js";
import { LiveChannel, registryOf } from "./channel.js";
import type { ChannelOptions, Listener, SubscribeOptions, SubscriptionError } from "./channel.js";
import type { DataClient, ListPage, ListParams } from "./client.js";
import { createHttpClient } from "./http.js";
import type { HttpClient, HttpClientOptions } from "./http.js";
import { fieldByName, formatScalar, isZero, itemChannel, modelChannel, parseChannel, scopeChannel } from "./model.js";
import type { Key, ModelDescriptor } from "./model.js";
import { hasParent, parentScope } from "./resourcename.js";
import type { Connection } from "./conn.js";
import { localId, localWritesOf } from "./local.js";
import type { ConnectionState } from "./state.js";
import { post } from "./dispatcher.js";

/**
 * ErrNotCached is what the WebSocket client's list and get reject with when
 * the cache cannot answer them: the channel is not subscribed, not
 * hydrated, or the connection is not open (Go: ErrNotCached). Match it with
 * instanceof.
 */
export class ErrNotCached extends Error {
  constructor(what: string) {
    super(`ssotws: not in the cache: ${what}`);
    this.name = "ErrNotCached";
  }
}

/**
 * ErrUnsupported is what the WebSocket client's mutations reject with:
 * mutations always go over HTTP (Go: ErrUnsupported). Match it with
 * instanceof.
 */
export class ErrUnsupported extends Error {
  constructor(what: string) {
    super(`ssotws: ${what}: mutations go over HTTP`);
    this.name = "ErrUnsupported";
  }
}

/** WebSocketOptions configure {@link createWebSocketClient}. */
export interface WebSocketOptions extends HttpClientOptions, ChannelOptions {
  /** transport is the Connect transport of the model's service: snapshots and checks are fetched over it. */
  readonly transport: Transport;
  /** connection is the app's shared WebSocket connection; without it nothing is ever cached. */
  readonly connection?: Connection | undefined;
}

/** LiveReads is what the WebSocket and the hybrid clients both offer of a model's channels. */
export interface LiveReads<T extends Message, K extends Key = Key> {
  readonly model: ModelDescriptor<T, K>;
  readonly connection: Connection | undefined;
  /** state is the connection's state, "unavailable" without one. */
  readonly state: ConnectionState;
  subscribe(channel: string, cb: (change: Change<T>) => void, opts?: SubscribeOptions): () => void;
  /** channelFor returns the channel a List with params maps onto, if any. */
  channelFor(params?: ListParams<T>): string | undefined;
  /** hydrated reports whether a channel's cache can answer reads now: hydrated, caught up, the connection open (Go: WebSocket.Hydrated). */
  hydrated(channel: string): boolean;
  /** @deprecated isLive is the former name of {@link LiveReads.hydrated}. */
  isLive(channel: string): boolean;
}

/** WebSocketClient is the WebSocket DataClient: reads from the caches, no mutations. */
export interface WebSocketClient<T extends Message, K extends Key = Key> extends DataClient<T, K>, LiveReads<T, K> {
  subscribe(channel: string, cb: (change: Change<T>) => void, opts?: SubscribeOptions): () => void;
  /**
   * waitHydrated resolves once channel is hydrated; it rejects at once when
   * the channel is not subscribed, when it is unsubscribed meanwhile, and
   * when the gateway refused or dropped the subscription.
   */
  waitHydrated(channel: string, signal?: AbortSignal): Promise<void>;
  /** subscriptionError returns why the gateway refused or dropped channel's subscription, if it did. */
  subscriptionError(channel: string): SubscriptionError | undefined;
  /** position returns the position of the last event applied to channel's cache (or of its snapshot). */
  position(channel: string): Position | undefined;
  /** peekList answers a List from the cache, or returns undefined when it cannot. */
  peekList(params?: ListParams<T>): ListPage<T> | undefined;
  /** peekGet answers a Get from the cache ({ value: undefined } for an absent record), or returns undefined. */
  peekGet(key: K): { readonly value: T | undefined } | undefined;
}

/** Marks are what each of the model's caches was when a mutation was sent. */
export type Marks<T extends Message> = Map<LiveChannel<T>, Mark | undefined>;

/** LocalMutations is how the hybrid client applies its own writes to the caches. */
export interface LocalMutations<T extends Message> {
  /** markLocal records what every cache of the model is right before a mutation of key is sent. */
  markLocal(key: string): Marks<T>;
  /** beginLocal records a mutation of key in flight; call the result once its outcome was applied. */
  beginLocal(key: string): (applied: boolean, final?: string) => void;
  /** applyLocal applies a mutation's response to the caches that were hydrated when it was sent. */
  applyLocal(value: T, requestId: string, marks: Marks<T>): void;
  /** applyLocalDelete applies a successful delete the same way. */
  applyLocalDelete(key: string, requestId: string, marks: Marks<T>): void;
}

const noop = () => {};

/**
 * createWebSocketClient returns a model's WebSocket DataClient. Without a
 * connection, or for a model that is not realtime, subscribe does nothing,
 * the state reads "unavailable" and every read rejects with ErrNotCached.
 */
export function createWebSocketClient<T extends Message, K extends Key>(
  model: ModelDescriptor<T, K>,
  options: WebSocketOptions,
): WebSocketClient<T, K> {
  const conn = model.realtime ? options.connection : undefined;
  return newWebSocket(model, createHttpClient(model, options.transport, options), conn, options);
}

/** newWebSocket is createWebSocketClient over an HTTP client of its own, with what the hybrid needs. */
export function newWebSocket<T extends Message, K extends Key>(
  model: ModelDescriptor<T, K>,
  http: HttpClient<T, K>,
  conn: Connection | undefined,
  options: ChannelOptions,
): WebSocketClient<T, K> & LocalMutations<T> {
  const registry = conn ? registryOf(conn) : undefined;

  function channelOf(channel: string): LiveChannel<T> | undefined {
    return registry?.get(channel) as LiveChannel<T> | undefined;
  }

  function liveOf(channel: string): LiveChannel<T> | undefined {
    const l = channelOf(channel);
    return l?.live ? l : undefined;
  }

  function modelChannels(): LiveChannel<T>[] {
    const out: LiveChannel<T>[] = [];
    for (const l of registry?.values() ?? []) {
      if (l.parsed.model === model.name) out.push(l as unknown as LiveChannel<T>);
    }
    return out;
  }

  const client: WebSocketClient<T, K> & LocalMutations<T> = {
    model,
    connection: conn,
    get state(): ConnectionState {
      return conn ? conn.state : "unavailable";
    },

    channelFor(params) {
      const set = Object.entries(params?.filter ?? {}).filter(([, v]) => !isZero(v));
      if (params?.parent) {
        return set.length === 0 && hasParent(model) ? scopeChannel(model, parentScope, params.parent) : undefined;
      }
      if (set.length === 0) return modelChannel(model);
      if (set.length > 1) return undefined;
      const [name, value] = set[0]!;
      const f = fieldByName(model.schema, name);
      if (!f || !model.scopes.includes(f.name)) return undefined;
      return scopeChannel(model, f.name, value);
    },

    hydrated(channel) {
      return liveOf(channel) !== undefined;
    },

    isLive(channel) {
      return client.hydrated(channel);
    },

    async waitHydrated(channel, signal) {
      const l = channelOf(channel);
      if (!l) throw new Error(`ssotws: ${JSON.stringify(channel)} is not subscribed`);
      let onAbort = noop;
      const aborted = new Promise<void>((r) => (onAbort = () => r()));
      signal?.addEventListener("abort", onAbort, { once: true });
      try {
        for (;;) {
          signal?.throwIfAborted();
          if (l.live) return;
          if (l.failure) throw l.failure;
          if (l.isClosed) throw new Error(`ssotws: ${JSON.stringify(channel)} was unsubscribed`);
          // Woken by the channel's sync (after its Ack), its failure or its end.
          await Promise.race([l.changed(), aborted]);
        }
      } finally {
        signal?.removeEventListener("abort", onAbort);
      }
    },

    subscriptionError(channel) {
      return channelOf(channel)?.failure;
    },

    position(channel) {
      return channelOf(channel)?.cache.position;
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
      const page = client.peekList(params);
      if (!page) throw new ErrNotCached(`list ${client.channelFor(params) ?? model.name}`);
      return page;
    },

    async get(key) {
      const hit = client.peekGet(key);
      if (!hit) throw new ErrNotCached(`get ${itemChannel(model, key)}`);
      return hit.value;
    },

    async create() {
      throw new ErrUnsupported(`create ${model.name}`);
    },

    async update() {
      throw new ErrUnsupported(`update ${model.name}`);
    },

    async delete() {
      throw new ErrUnsupported(`delete ${model.name}`);
    },

    subscribe(channel, cb, opts) {
      if (!conn || !registry) return noop;
      const parsed = parseChannel(channel);
      if (parsed.model !== model.name) {
        throw new Error(`ssotws: channel ${JSON.stringify(channel)} is not a ${model.name} channel`);
      }
      let live = channelOf(channel);
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
        post(() => {
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

    // --- the hybrid's own writes (see LocalWrites)

    markLocal(key) {
      return new Map(modelChannels().map((l) => [l, l.cache.mark(key)]));
    },

    beginLocal(key) {
      if (!conn) return noop;
      const end = localWritesOf(conn).begin(localId(model.name, key));
      return (applied, final) => end(applied, final === undefined ? undefined : localId(model.name, final));
    },

    applyLocal(value, requestId, marks) {
      for (const l of modelChannels()) l.applyLocal(value, requestId, marks.get(l));
    },

    applyLocalDelete(key, requestId, marks) {
      for (const l of modelChannels()) l.applyLocalDelete(key, requestId, marks.get(l));
    },
  };
  return client;
}
