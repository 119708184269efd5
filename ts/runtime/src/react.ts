// React bindings: a provider for the shared connection and transport, and
// hooks that read through a DataClient. Only this file imports React.

import {
  createContext,
  createElement,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
  useSyncExternalStore,
} from "react";
import type { ReactElement, ReactNode } from "react";
import type { Message } from "@bufbuild/protobuf";
import type { Transport } from "@connectrpc/connect";
import type { DataClient, Init, ListParams } from "./client.js";
import { createHybridClient } from "./hybrid.js";
import type { HybridClient } from "./hybrid.js";
import { itemChannel } from "./model.js";
import type { Key, ModelDescriptor } from "./model.js";
import type { Connection, ConnectionState } from "./conn.js";
import { ValidationError, fieldErrors } from "./validation.js";
import type { Validation } from "./validation.js";

export type {
  PresenceHookOptions,
  PresenceState,
  SignalHookOptions,
  TypedPresenceHookOptions,
  TypedPresenceState,
  TypingOptions,
  TypingSignal,
  TypingState,
} from "./react_presence.js";
export { usePresence, useSignal, useSignals, useTyping } from "./react_presence.js";

/** SsotContextValue is what {@link SsotProvider} shares. */
export interface SsotContextValue {
  readonly transport?: Transport | undefined;
  readonly connection?: Connection | undefined;
  readonly validation?: Validation | undefined;
}

const SsotContext = createContext<SsotContextValue>({});

/** SsotProviderProps are the props of {@link SsotProvider}. */
export interface SsotProviderProps {
  /** transport is the Connect transport, e.g. createConnectTransport({ baseUrl }). */
  readonly transport?: Transport;
  /** connection is the app's one WebSocket connection (createConnection); omit for HTTP only. */
  readonly connection?: Connection;
  /**
   * validation checks writes against the models' buf.validate rules before
   * they are sent, and reads the server's violations back
   * (`protovalidate()` of "@ssot-ws/runtime/validate"); see {@link useWrite}.
   */
  readonly validation?: Validation;
  readonly children?: ReactNode;
}

/** SsotProvider gives the hooks below the app's transport and shared connection. */
export function SsotProvider(props: SsotProviderProps): ReactElement {
  const { transport, connection, validation } = props;
  const value = useMemo<SsotContextValue>(() => ({ transport, connection, validation }), [transport, connection, validation]);
  return createElement(SsotContext.Provider, { value }, props.children);
}

/** useSsot returns the provider's transport and connection. */
export function useSsot(): SsotContextValue {
  return useContext(SsotContext);
}

/** Source is what the hooks read from: a client, or a model descriptor served by the provider. */
export type Source<T extends Message, K extends Key = Key> = DataClient<T, K> | ModelDescriptor<T, K>;

function isDescriptor<T extends Message, K extends Key>(s: Source<T, K>): s is ModelDescriptor<T, K> {
  return "schema" in s && "methods" in s && typeof (s as { list?: unknown }).list !== "function";
}

function isHybrid<T extends Message, K extends Key>(c: DataClient<T, K>): c is HybridClient<T, K> {
  return typeof (c as Partial<HybridClient<T, K>>).peekList === "function";
}

/**
 * useClient returns the hybrid client of a model over the provider's
 * transport and connection.
 */
export function useClient<T extends Message, K extends Key>(model: ModelDescriptor<T, K>): HybridClient<T, K> {
  const { transport, connection, validation } = useSsot();
  return useMemo(() => {
    if (!transport) throw new Error("ssotws: useClient needs an SsotProvider with a transport");
    return createHybridClient(model, { transport, connection, validation });
  }, [model, transport, connection, validation]);
}

function useSource<T extends Message, K extends Key>(source: Source<T, K>): DataClient<T, K> {
  const { transport, connection, validation } = useSsot();
  return useMemo(() => {
    if (!isDescriptor(source)) return source;
    if (!transport) throw new Error("ssotws: a hook given a model descriptor needs an SsotProvider with a transport");
    return createHybridClient(source, { transport, connection, validation });
  }, [source, transport, connection, validation]);
}

/** HookOptions configure {@link useList} and {@link useGet}. */
export interface HookOptions {
  /** subscribe keeps the result live over the WebSocket; false by default. */
  readonly subscribe?: boolean;
  /** flushMs is how long incoming changes are batched before one render; 100 by default. */
  readonly flushMs?: number;
}

/** ListState is what {@link useList} returns. */
export interface ListState<T> {
  readonly items: T[];
  readonly nextPageToken: string;
  readonly loading: boolean;
  readonly error: unknown;
  /** live is true when the items came from a live channel's cache. */
  readonly live: boolean;
  /** refetch reads again. */
  readonly refetch: () => void;
}

/** GetState is what {@link useGet} returns. */
export interface GetState<T> {
  readonly data: T | undefined;
  readonly loading: boolean;
  readonly error: unknown;
  readonly live: boolean;
  readonly refetch: () => void;
}

function stableKey(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => {
    if (typeof x === "bigint") return `${x}n`;
    if (x && typeof x === "object" && !Array.isArray(x) && !(x instanceof Uint8Array)) {
      const o = x as Record<string, unknown>;
      return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));
    }
    return x;
  });
}

interface Loaded<V> {
  readonly value: V;
  readonly loading: boolean;
  readonly error: unknown;
  readonly live: boolean;
}

/**
 * useLoader runs `load` now, again when `deps` change, and — when
 * subscribed — at most once per flushMs while changes arrive on `channel`
 * (and when the channel (re)hydrates), so a burst renders once.
 */
function useLoader<T extends Message, K extends Key, V>(
  client: DataClient<T, K>,
  depKey: string,
  initial: V,
  enabled: boolean,
  channel: (c: HybridClient<T, K>) => string | undefined,
  peek: (c: HybridClient<T, K>) => { value: V } | undefined,
  load: () => Promise<V>,
  opts: HookOptions,
): Loaded<V> & { refetch: () => void } {
  const [state, setState] = useState<Loaded<V>>({ value: initial, loading: enabled, error: undefined, live: false });
  const [tick, setTick] = useState(0);
  const fns = useRef({ channel, peek, load });
  fns.current = { channel, peek, load };
  const subscribe = opts.subscribe ?? false;
  const flushMs = opts.flushMs ?? 100;

  useEffect(() => {
    if (!enabled) {
      setState({ value: initial, loading: false, error: undefined, live: false });
      return;
    }
    let cancelled = false;
    let seq = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const hybrid = isHybrid(client) ? client : undefined;
    const run = () => {
      const my = ++seq;
      const hit = hybrid ? fns.current.peek(hybrid) : undefined;
      if (hit) {
        setState({ value: hit.value, loading: false, error: undefined, live: true });
        return;
      }
      setState((s) => (s.loading ? s : { ...s, loading: true }));
      fns.current.load().then(
        (value) => {
          if (!cancelled && my === seq) setState({ value, loading: false, error: undefined, live: false });
        },
        (error: unknown) => {
          if (!cancelled && my === seq) setState((s) => ({ ...s, loading: false, error }));
        },
      );
    };
    run();
    const ch = subscribe && hybrid ? fns.current.channel(hybrid) : undefined;
    let unsubscribe = () => {};
    if (hybrid && ch !== undefined) {
      const schedule = () => {
        if (timer === undefined) {
          timer = setTimeout(() => {
            timer = undefined;
            if (!cancelled) run();
          }, flushMs);
        }
      };
      unsubscribe = hybrid.subscribe(ch, schedule, {
        onSync: schedule,
        onError: (error) => {
          if (!cancelled) setState((s) => ({ ...s, error }));
        },
      });
    }
    return () => {
      cancelled = true;
      if (timer !== undefined) clearTimeout(timer);
      unsubscribe();
    };
    // `initial` is a constant of the caller; depKey stands for the params.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [client, depKey, enabled, subscribe, flushMs, tick]);

  const refetch = useMemo(() => () => setTick((t) => t + 1), []);
  return { ...state, refetch };
}

const emptyList = { items: [] as never[], nextPageToken: "" };

/**
 * useList lists a model's records. With `subscribe`, it stays live: it
 * subscribes to the channel the params map onto (the model channel when
 * they map onto none) and reads again, from the cache once hydrated, when
 * changes arrive — batched every flushMs. Without `subscribe` it is a plain
 * HTTP read, as before realtime.
 */
export function useList<T extends Message, K extends Key = Key>(
  source: Source<T, K>,
  params: ListParams<T> = {},
  opts: HookOptions = {},
): ListState<T> {
  const client = useSource(source);
  const p = useRef(params);
  p.current = params;
  const r = useLoader<T, K, { items: T[]; nextPageToken: string }>(
    client,
    stableKey(params),
    emptyList,
    true,
    (c) => c.channelFor(p.current) ?? c.model.name,
    (c) => {
      const page = c.peekList(p.current);
      return page ? { value: page } : undefined;
    },
    () => client.list(p.current),
    opts,
  );
  return {
    items: r.value.items,
    nextPageToken: r.value.nextPageToken,
    loading: r.loading,
    error: r.error,
    live: r.live,
    refetch: r.refetch,
  };
}

/**
 * useGet reads one record (undefined when absent); with `subscribe` it
 * follows the record's item channel. A key of undefined reads nothing.
 */
export function useGet<T extends Message, K extends Key = Key>(
  source: Source<T, K>,
  key: K | undefined,
  opts: HookOptions = {},
): GetState<T> {
  const client = useSource(source);
  const k = useRef(key);
  k.current = key;
  const r = useLoader<T, K, T | undefined>(
    client,
    stableKey(key),
    undefined,
    key !== undefined,
    (c) => (k.current === undefined ? undefined : itemChannel(c.model, k.current)),
    (c) => (k.current === undefined ? undefined : c.peekGet(k.current)),
    () => (k.current === undefined ? Promise.resolve(undefined) : client.get(k.current)),
    opts,
  );
  return { data: r.value, loading: r.loading, error: r.error, live: r.live, refetch: r.refetch };
}

/** WriteState is what {@link useWrite} returns. */
export interface WriteState<T extends Message, K> {
  /** create creates a record; it resolves undefined when the write failed (see error). */
  readonly create: (data: Init<T>) => Promise<T | undefined>;
  /** update updates the record with key; undefined when the write failed. */
  readonly update: (key: K, data: Init<T>, paths?: readonly string[]) => Promise<T | undefined>;
  /**
   * fieldErrors are the violated rules of the last write by field path
   * ("text", "lines[2].text"; "" for a rule of the whole message), found
   * before sending or returned by the server; empty when it passed.
   */
  readonly fieldErrors: Readonly<Record<string, readonly string[]>>;
  /** error is the last write's error (a ValidationError for broken rules), undefined when it passed. */
  readonly error: unknown;
  readonly pending: boolean;
  /** reset clears error and fieldErrors. */
  readonly reset: () => void;
}

const noErrors: Readonly<Record<string, readonly string[]>> = Object.freeze({});

/**
 * useWrite creates and updates records of a model, with the outcome as
 * state a form renders: the violations of its buf.validate rules per
 * field (checked before sending when the provider has `validation`, and
 * as the server refused them), or another error.
 */
export function useWrite<T extends Message, K extends Key = Key>(source: Source<T, K>): WriteState<T, K> {
  const client = useSource(source);
  const [state, setState] = useState<{ error: unknown; fieldErrors: Readonly<Record<string, readonly string[]>>; pending: boolean }>(
    { error: undefined, fieldErrors: noErrors, pending: false },
  );
  const run = useCallback(async (write: () => Promise<T>): Promise<T | undefined> => {
    setState((s) => ({ ...s, pending: true }));
    try {
      const out = await write();
      setState({ error: undefined, fieldErrors: noErrors, pending: false });
      return out;
    } catch (err) {
      const fe = err instanceof ValidationError ? fieldErrors(err.violations) : noErrors;
      setState({ error: err, fieldErrors: fe, pending: false });
      return undefined;
    }
  }, []);
  const create = useCallback((data: Init<T>) => run(() => client.create(data)), [client, run]);
  const update = useCallback(
    (key: K, data: Init<T>, paths?: readonly string[]) => run(() => client.update(key, data, paths)),
    [client, run],
  );
  const reset = useCallback(() => setState({ error: undefined, fieldErrors: noErrors, pending: false }), []);
  return { create, update, reset, ...state };
}

const noop = () => {};

/**
 * useConnectionState returns the shared connection's state ("unavailable"
 * without one), re-rendering when it changes.
 */
export function useConnectionState(connection?: Connection): ConnectionState {
  const ctx = useSsot();
  const conn = connection ?? ctx.connection;
  return useSyncExternalStore(
    (cb) => (conn ? conn.onState(cb) : noop),
    () => (conn ? conn.state : "unavailable"),
    () => (conn ? conn.state : "unavailable"),
  );
}
