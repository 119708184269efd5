// The hybrid DataClient: HTTP for mutations and for what the cache cannot
// answer, the shared WebSocket and its per-channel caches for the rest
// (docs/client-semantics.md, "Transports").

import type { Message } from "@bufbuild/protobuf";
import type { Transport } from "@connectrpc/connect";
import type { Change, Mark } from "./cache.js";
import { LiveChannel, registryOf } from "./channel.js";
import type { ChannelOptions, Listener, SubscribeOptions } from "./channel.js";
import type { DataClient, Init, ListPage, ListParams } from "./client.js";
import { createHttpClient, newRequestId } from "./http.js";
import type { HttpClient, HttpClientOptions } from "./http.js";
import { fieldByName, formatScalar, isZero, itemChannel, keyText, modelChannel, mustField, parseChannel, scopeChannel } from "./model.js";
import type { Key, ModelDescriptor } from "./model.js";
import type { Connection } from "./conn.js";
import { localId, localWritesOf } from "./local.js";
import type { ConnectionState } from "./state.js";

export { SubscribeError } from "./channel.js";
export type { SubscribeOptions } from "./channel.js";

/** HybridOptions configure {@link createHybridClient}. */
export interface HybridOptions extends HttpClientOptions, ChannelOptions {
  /** transport is the Connect transport of the model's service. */
  readonly transport: Transport;
  /** connection is the app's shared WebSocket connection; without it the client is HTTP-only. */
  readonly connection?: Connection | undefined;
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
