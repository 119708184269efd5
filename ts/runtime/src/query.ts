// The live connect-query mode (@ssot-ws/runtime/query): connect-query's
// Get and List queries of realtime models kept up to date from the shared
// WebSocket, with their call sites unchanged (docs/client-semantics.md,
// "Live connect-query caches").
//
// The app gives connect-query the transport this returns. A Get or List
// call of a realtime model through it is answered by the hybrid client of
// that model (hybrid.ts): the channel the request maps onto is subscribed,
// hydrated gap-free (subscribe, Ack, List/Get with the Ssot-Position
// header, buffered events past it), resumed and verified exactly as for
// the DataClient, and the query's answer is the channel's cache. Every
// change of the channel is then written into the TanStack query cache with
// setQueryData. Mutations of those models made through it (useMutation)
// go through the hybrid client too: one Idempotency-Key, their response
// applied at once by the version rule, so their own event changes nothing.
//
// Imports of TanStack and connect-query are type-only but for
// createTransportKey: both are optional peer dependencies, needed only by
// apps that use this entry point.

import { create } from "@bufbuild/protobuf";
import type { DescMessage, Message } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Transport, UnaryResponse } from "@connectrpc/connect";
import type { MessageInitShape, DescMethodUnary } from "@bufbuild/protobuf";
import { createConnectQueryKey } from "@connectrpc/connect-query-core";
import type { Query, QueryClient, QueryKey } from "@tanstack/query-core";
import { createHybridClient } from "./hybrid.js";
import type { HybridOptions } from "./hybrid.js";
import { fieldByName, getField, isZero, keyText, methodByName, mustField, parseKey } from "./model.js";
import type { Key, ModelDescriptor } from "./model.js";
import type { Connection } from "./conn.js";
import { roleId, inputFromKey, readOf, answer, wrap, unaryResponse } from "./query_read.js";
import type { AnyModel, AnyHybrid, Role, Read } from "./query_read.js";

/** LiveQueryOptions configure {@link createLiveQueries}. */
export interface LiveQueryOptions extends Omit<HybridOptions, "transport" | "connection"> {
  /** queryClient is the app's TanStack QueryClient, the one QueryClientProvider gets. */
  readonly queryClient: QueryClient;
  /** transport is the app's Connect transport (interceptors and all). */
  readonly transport: Transport;
  /** connection is the app's shared WebSocket; without one nothing is live. */
  readonly connection: Connection | undefined;
  /** models are the generated model descriptors (chat_ssotws.ts); the realtime ones go live. */
  readonly models: readonly ModelDescriptor<any, any>[];
  /**
   * hydrationWaitMs is how long a read waits for its channel to be hydrated
   * (the socket opening, the Ack, the snapshot) before it is answered over
   * HTTP instead; the query is patched once the channel is live. 5000 by default.
   */
  readonly hydrationWaitMs?: number;
}

/** LiveQueries is the live mode of one QueryClient. */
export interface LiveQueries {
  /** transport is the transport to give connect-query (TransportProvider, createQueryOptions, …). */
  readonly transport: Transport;
  /** channelOf returns the channel a connect-query key is kept live by, if any. */
  channelOf(queryKey: QueryKey): string | undefined;
  /** isLive reports whether a query (by key) is patched from a hydrated channel now. */
  isLive(queryKey: QueryKey): boolean;
  /** subscribe hears every change of liveness or of a live query's data; it returns the unsubscribe function. */
  subscribe(listener: () => void): () => void;
  /** close stops patching and drops the subscriptions; the transport then passes calls through. */
  close(): void;
}

/** Channel is one subscribed channel and who holds it. */
interface Held {
  refs: number;
  unsubscribe: () => void;
  /** waiters hear the next onSync or onError. */
  readonly waiters: Set<() => void>;
  patchQueued: boolean;
  /** synced: the channel was hydrated once; a read then never waits for it again. */
  synced: boolean;
  closeTimer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * createLiveQueries puts a QueryClient in live mode. The app gives
 * connect-query the returned transport instead of its own; its
 * useQuery/useMutation call sites stay as they are:
 *
 *   const live = createLiveQueries({ queryClient, transport, connection, models: [MessageModel, RoomModel] });
 *   <TransportProvider transport={live.transport}><QueryClientProvider client={queryClient}>…
 */
export function createLiveQueries(options: LiveQueryOptions): LiveQueries {
  const { queryClient, connection } = options;
  const inner = options.transport;
  const waitMs = options.hydrationWaitMs ?? 5000;
  const roles = new Map<string, Role>();
  const { queryClient: _q, transport: _t, connection: _c, models: _m, hydrationWaitMs: _w, ...hybridOptions } = options;
  for (const model of options.models as readonly AnyModel[]) {
    if (!model.realtime) continue;
    const hybrid = createHybridClient(model, { ...hybridOptions, transport: inner, connection }) as AnyHybrid;
    for (const kind of ["get", "list", "create", "update", "delete"] as const) {
      const spec = model.methods[kind];
      const method = spec && methodByName(model.service, spec.method);
      if (method) roles.set(roleId(model.service.typeName, method.name), { model, hybrid, kind, method });
    }
  }

  const channels = new Map<string, Held>();
  const listeners = new Set<() => void>();
  let closed = false;

  function notify() {
    for (const l of [...listeners]) l();
  }

  const transport: Transport = {
    async unary(method, signal, timeoutMs, header, input, contextValues) {
      const role = closed || !connection ? undefined : roles.get(roleId(method.parent.typeName, method.name));
      const pass = () => inner.unary(method, signal, timeoutMs, header, input, contextValues);
      if (!role) return pass();
      const request = create(method.input as DescMessage, input as MessageInitShape<DescMessage>);
      if (role.kind === "get" || role.kind === "list") {
        const read = readOf(role, request);
        if (!read) return pass();
        return (await live(read, signal, pass)) as never;
      }
      return (await mutate(role, request, header, pass)) as never;
    },
    stream: (method, signal, timeoutMs, header, input, contextValues) =>
      inner.stream(method, signal, timeoutMs, header, input, contextValues),
  };
  // The transport's part of connect-query's keys: only queries made with it are live.
  const some = roles.values().next().value;
  const transportKey = some
    ? (createConnectQueryKey({ schema: some.method as DescMethodUnary, transport, cardinality: "finite" })[1] as { transport?: string }).transport
    : undefined;

  // --- reads

  /** live answers a read from its channel once hydrated, else over HTTP. */
  async function live(read: Read, signal: AbortSignal | undefined, pass: () => Promise<UnaryResponse>): Promise<UnaryResponse> {
    const release = acquire(read.role, read.channel);
    try {
      if (!read.role.hybrid.isLive(read.channel)) await hydrated(read, signal);
      const got = answer(read);
      return got ? unaryResponse(read.role.method, got) : await pass();
    } finally {
      release();
    }
  }

  /** hydrated waits until the channel answers, fails, or waitMs passed. */
  function hydrated(read: Read, signal: AbortSignal | undefined): Promise<void> {
    const held = channels.get(read.channel);
    const state = connection?.state;
    // A channel that was live and is not (the socket is down, a Reset is
    // being fetched) does not hold reads up: HTTP answers them meanwhile.
    if (!held || held.synced || state === "closed" || state === "unavailable" || state === "unauthenticated" || state === "forbidden") {
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        held.waiters.delete(done);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, waitMs);
      held.waiters.add(done);
      signal?.addEventListener("abort", done);
    });
  }

  /** acquire holds a channel subscribed; call the result to let go. */
  function acquire(role: Role, channel: string): () => void {
    let held = channels.get(channel);
    if (!held) {
      const h: Held = { refs: 0, unsubscribe: () => {}, waiters: new Set(), patchQueued: false, synced: false, closeTimer: undefined };
      const wake = () => {
        for (const w of [...h.waiters]) w();
      };
      channels.set(channel, h);
      h.unsubscribe = role.hybrid.subscribe(channel, () => queuePatch(channel, h), {
        onSync: () => {
          h.synced = true;
          wake();
          queuePatch(channel, h);
        },
        onError: wake,
      });
      held = h;
    }
    const h = held;
    if (h.closeTimer !== undefined) clearTimeout(h.closeTimer);
    h.closeTimer = undefined;
    h.refs++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      if (--h.refs > 0) return;
      // Let go a moment later: a query that remounts at once (React's
      // StrictMode, a route change) keeps its hydrated channel.
      h.closeTimer = setTimeout(() => {
        if (h.refs > 0 || channels.get(channel) !== h) return;
        channels.delete(channel);
        h.unsubscribe();
        for (const w of [...h.waiters]) w();
        // No longer patched: a later observer fetches again.
        void queryClient.invalidateQueries({ predicate: (q) => readOfQuery(q)?.channel === channel, refetchType: "none" });
        notify();
      }, 0);
    };
  }

  // --- queries

  const reads = new WeakMap<Query, Read | null>();

  function readOfKey(queryKey: QueryKey): Read | undefined {
    const [tag, props] = queryKey as [unknown, Record<string, unknown> | undefined];
    if (tag !== "connect-query" || !props || props["cardinality"] !== "finite") return undefined;
    if (props["transport"] !== undefined && props["transport"] !== transportKey) return undefined;
    if (props["headers"] !== undefined) return undefined;
    const role = roles.get(roleId(String(props["serviceName"]), String(props["methodName"])));
    if (!role || (role.kind !== "get" && role.kind !== "list")) return undefined;
    const input = inputFromKey(role.method.input, props["input"]);
    return input && readOf(role, input);
  }

  function readOfQuery(q: Query): Read | undefined {
    let r = reads.get(q);
    if (r === undefined) reads.set(q, (r = readOfKey(q.queryKey) ?? null));
    return r ?? undefined;
  }

  // Observed queries hold their channel: patched while anyone looks.
  const holds = new Map<Query, () => void>();
  function track(q: Query) {
    const read = readOfQuery(q);
    if (!read) return;
    const want = !closed && q.getObserversCount() > 0 && queryClient.getQueryCache().get(q.queryHash) === q;
    const has = holds.get(q);
    if (want && !has) holds.set(q, acquire(read.role, read.channel));
    else if (!want && has) {
      holds.delete(q);
      has();
    }
  }
  const unwatch = queryClient.getQueryCache().subscribe((e) => {
    if (e.type === "added" || e.type === "removed" || e.type === "observerAdded" || e.type === "observerRemoved") track(e.query);
  });
  for (const q of queryClient.getQueryCache().getAll()) track(q);

  function queuePatch(channel: string, held: Held) {
    if (held.patchQueued) return;
    held.patchQueued = true;
    queueMicrotask(() => {
      held.patchQueued = false;
      if (channels.get(channel) === held) patch(channel);
      notify();
    });
  }

  /** patch writes a channel's cache into every query it answers. */
  function patch(channel: string) {
    for (const q of queryClient.getQueryCache().getAll()) {
      const read = readOfQuery(q);
      if (!read || read.channel !== channel || !read.role.hybrid.isLive(channel)) continue;
      let got: Message | undefined;
      try {
        got = answer(read);
      } catch {
        // Absent now: the query fetches again and hears NotFound (from the cache).
        if (q.state.data !== undefined) void queryClient.invalidateQueries({ queryKey: q.queryKey, exact: true });
        continue;
      }
      if (got) queryClient.setQueryData(q.queryKey, got);
      // A List whose page size is smaller than the channel now: its page comes from the server.
      else if (q.state.data !== undefined) void queryClient.invalidateQueries({ queryKey: q.queryKey, exact: true });
    }
  }

  // --- mutations

  /**
   * mutate sends a Create, Update or Delete through the model's hybrid
   * client: one request id for its retries, its response applied to the
   * channels' caches (and so to the queries) at once, its own event then
   * changing nothing. A request with more than the model and mask, or
   * headers of its own, passes through unchanged.
   */
  async function mutate(role: Role, request: Message, header: HeadersInit | undefined, pass: () => Promise<UnaryResponse>): Promise<UnaryResponse> {
    const { model, hybrid, method } = role;
    if (header !== undefined && [...new Headers(header).keys()].length > 0) return pass();
    const only = (...names: (string | undefined)[]) =>
      method.input.fields.every((f) => names.includes(f.name) || isZero(getField(request, f.localName)));
    switch (role.kind) {
      case "create": {
        const spec = model.methods.create!;
        const value = getField(request, mustField(method.input, spec.modelField).localName) as Message | undefined;
        if (!value || !only(spec.modelField)) return pass();
        return unaryResponse(method, wrap(spec.response, method.output, await hybrid.create(value)));
      }
      case "update": {
        const spec = model.methods.update!;
        const value = getField(request, mustField(method.input, spec.modelField).localName) as Message | undefined;
        const maskField = fieldByName(method.input, spec.maskField ?? "update_mask");
        if (!value || !only(spec.modelField, maskField?.name)) return pass();
        const mask = maskField && (getField(request, maskField.localName) as { paths?: string[] } | undefined);
        const key = parseKey(model.keyKind, keyText(model, value));
        const updated = await hybrid.update(key, value, mask?.paths?.length ? mask.paths : undefined);
        return unaryResponse(method, wrap(spec.response, method.output, updated));
      }
      case "delete": {
        const spec = model.methods.delete!;
        const keyField = mustField(method.input, spec.keyField ?? model.key);
        const key = getField(request, keyField.localName) as Key;
        if (isZero(key) || !only(keyField.name)) return pass();
        if (!(await hybrid.delete(key))) throw new ConnectError(`${model.name} ${String(key)} not found`, Code.NotFound);
        return unaryResponse(method, create(method.output));
      }
      default:
        return pass();
    }
  }

  return {
    transport,
    channelOf(queryKey) {
      return readOfKey(queryKey)?.channel;
    },
    isLive(queryKey) {
      const read = readOfKey(queryKey);
      if (!read || !channels.has(read.channel) || !read.role.hybrid.isLive(read.channel)) return false;
      return read.role.kind === "get" || read.role.hybrid.peekList(read.params) !== undefined;
    },
    subscribe(listener) {
      listeners.add(listener);
      const offState = connection?.onState(() => listener());
      return () => {
        listeners.delete(listener);
        offState?.();
      };
    },
    close() {
      if (closed) return;
      closed = true;
      unwatch();
      for (const release of holds.values()) release();
      holds.clear();
      for (const [channel, h] of channels) {
        if (h.closeTimer !== undefined) clearTimeout(h.closeTimer);
        channels.delete(channel);
        h.unsubscribe();
        for (const w of [...h.waiters]) w();
      }
      notify();
    },
  };
}
