// The hybrid DataClient: HTTP for mutations and for what the cache cannot
// answer, the WebSocket client (websocket.ts) and its per-channel caches
// for the rest (docs/client-semantics.md, "Transports"). The Go client's
// twin is NewHybrid in ssotws/client/hybrid.go.

import type { Message } from "@bufbuild/protobuf";
import type { Transport } from "@connectrpc/connect";
import type { Change } from "./cache.js";
import type { ChannelOptions, SubscribeOptions } from "./channel.js";
import type { DataClient, Init, ListPage, ListParams } from "./client.js";
import { createHttpClient, newRequestId } from "./http.js";
import type { HttpClient, HttpClientOptions } from "./http.js";
import { formatScalar, keyText, mustField } from "./model.js";
import type { Key, ModelDescriptor } from "./model.js";
import type { Connection } from "./conn.js";
import type { ConnectionState } from "./state.js";
import { newWebSocket } from "./websocket.js";
import type { LiveReads, Marks, WebSocketClient } from "./websocket.js";

export { SubscribeError, SubscriptionError } from "./channel.js";
export type { SubscribeOptions } from "./channel.js";

/** HybridOptions configure {@link createHybridClient}. */
export interface HybridOptions extends HttpClientOptions, ChannelOptions {
  /** transport is the Connect transport of the model's service. */
  readonly transport: Transport;
  /** connection is the app's shared WebSocket connection; without it the client is HTTP-only. */
  readonly connection?: Connection | undefined;
}

/** HybridClient is the DataClient generated code hands out. */
export interface HybridClient<T extends Message, K extends Key = Key> extends DataClient<T, K>, LiveReads<T, K> {
  subscribe(channel: string, cb: (change: Change<T>) => void, opts?: SubscribeOptions): () => void;
  /** http is the HTTP transport (Go: Hybrid.HTTP()). */
  readonly http: HttpClient<T, K>;
  /** webSocket is the WebSocket transport, undefined without a connection (Go: Hybrid.WebSocket()). */
  readonly webSocket: WebSocketClient<T, K> | undefined;
  /** peekList answers a List from the cache, or returns undefined when it cannot. */
  peekList(params?: ListParams<T>): ListPage<T> | undefined;
  /** peekGet answers a Get from the cache ({ value: undefined } for an absent record), or returns undefined. */
  peekGet(key: K): { readonly value: T | undefined } | undefined;
}

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
  // Without a connection it caches nothing: every read goes over HTTP.
  const ws = newWebSocket(model, http, conn, options);

  // mutating runs a mutation of the record with key text (see LocalWrites),
  // apply applying its outcome to the caches before it counts as ended.
  // Marks are what each of the model's caches was when the mutation was
  // sent: its outcome is applied only to the hydration it was sent under.
  async function mutating<R>(
    key: string,
    call: () => Promise<R>,
    apply: (r: R, marks: Marks<T>) => { applied: boolean; key?: string },
  ): Promise<R> {
    const marks = ws.markLocal(key);
    const end = ws.beginLocal(key);
    let r: R;
    try {
      r = await call();
    } catch (err) {
      end(false);
      throw err;
    }
    const out = apply(r, marks);
    end(out.applied, out.key);
    return r;
  }

  function initKey(data: Init<T>): string {
    const f = mustField(model.schema, model.key);
    return formatScalar((data as Record<string, unknown>)[f.localName] ?? "");
  }

  const client: HybridClient<T, K> = {
    model,
    http,
    webSocket: conn ? ws : undefined,
    connection: conn,
    get state(): ConnectionState {
      return ws.state;
    },
    channelFor: (params) => ws.channelFor(params),
    hydrated: (channel) => ws.hydrated(channel),
    isLive: (channel) => ws.hydrated(channel),
    peekList: (params) => ws.peekList(params),
    peekGet: (key) => ws.peekGet(key),
    subscribe: (channel, cb, opts) => ws.subscribe(channel, cb, opts),

    async list(params) {
      return ws.peekList(params) ?? http.list(params);
    },

    async get(key) {
      const hit = ws.peekGet(key);
      return hit ? hit.value : http.get(key);
    },

    async create(data: Init<T>) {
      const requestId = makeId();
      return mutating(
        initKey(data),
        () => http.create(data, { requestId }),
        (v, marks) => {
          ws.applyLocal(v, requestId, marks);
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
          ws.applyLocal(v, requestId, marks);
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
          if (ok) ws.applyLocalDelete(text, requestId, marks);
          return { applied: ok };
        },
      );
    },
  };
  return client;
}
