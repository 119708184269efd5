// The WebSocket transport: one shared connection per app, binary protobuf
// frames, multiplexed channel subscriptions, reconnect with backoff and
// jitter, resubscribe with `since`.

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { base64Encode } from "@bufbuild/protobuf/wire";
import { ClientFrameSchema, ErrorCode, ServerFrameSchema } from "../gen/ssot/ws/v1/frame_pb.js";
import type { Event, Position, ServerFrame } from "../gen/ssot/ws/v1/frame_pb.js";

/** ConnectionState is the observable state of the shared connection. */
export type ConnectionState = "idle" | "connecting" | "open" | "reconnecting" | "closed" | "unavailable";

/** The subprotocol the gateway selects, and the prefix of the token one. */
export const subprotocol = "ssot.v1";
export const authSubprotocolPrefix = "ssot.auth.";

/** Close codes of the gateway. */
export const CloseCode = {
  Unauthenticated: 4401,
  Forbidden: 4403,
  TokenExpired: 4408,
  TooSlow: 4429,
  BadFrame: 1008,
  TooBig: 1009,
} as const;

/** WebSocketLike is the part of the WebSocket API the connection uses. */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  readonly protocol: string;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

/** WebSocketCtor constructs a {@link WebSocketLike}; the global WebSocket fits. */
export type WebSocketCtor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** BackoffOptions configure reconnect delays (base 1 s, cap 16 s). */
export interface BackoffOptions {
  readonly baseMs?: number;
  readonly capMs?: number;
  /** random returns a number in [0, 1); Math.random by default. */
  readonly random?: () => number;
}

/**
 * backoffDelay is the wait before reconnect attempt n (0-based):
 * min(cap, base·2ⁿ) scaled by a random factor in [0.5, 1], rounded to
 * whole milliseconds.
 */
export function backoffDelay(attempt: number, opts: BackoffOptions = {}): number {
  const base = opts.baseMs ?? 1000;
  const cap = opts.capMs ?? 16000;
  const r = (opts.random ?? Math.random)();
  const d = Math.min(cap, base * 2 ** Math.min(attempt, 30));
  return Math.round(d * (0.5 + 0.5 * r));
}

/** EnvironmentLike gives the connection the browser's online/visibility signals. */
export interface EnvironmentLike {
  addEventListener(type: string, listener: () => void): void;
  removeEventListener(type: string, listener: () => void): void;
}

/** ConnectionOptions configure {@link createConnection}. */
export interface ConnectionOptions {
  /** url is the gateway's ws:// or wss:// URL. */
  readonly url: string;
  /** token is a bearer token, offered as the "ssot.auth.<base64url>" subprotocol. */
  readonly token?: string;
  /** getToken is asked for a token before every connect (it wins over token). */
  readonly getToken?: () => string | undefined | Promise<string | undefined>;
  readonly backoff?: BackoffOptions;
  /** WebSocket defaults to globalThis.WebSocket. */
  readonly WebSocket?: WebSocketCtor;
  /** window receives "online"; globalThis.window by default. */
  readonly window?: EnvironmentLike;
  /** document receives "visibilitychange"; globalThis.document by default. */
  readonly document?: EnvironmentLike & { readonly visibilityState?: string };
  /**
   * keepalive sends a Ping every intervalMs and drops the connection when
   * nothing arrives within timeoutMs after it. Off by default.
   */
  readonly keepalive?: { readonly intervalMs: number; readonly timeoutMs: number };
}

/** ChannelSink receives what the connection hears for one channel. */
export interface ChannelSink {
  /** since is asked at every (re)subscribe: the last position held. */
  since(): Position | undefined;
  /** ack: the subscription is active; `resumed` when it was sent with since. */
  onAck(position: Position | undefined, resumed: boolean): void;
  /** reset: history cannot cover since; refetch. The subscription is active. */
  onReset(position: Position | undefined): void;
  onEvents(events: Event[]): void;
  onError(code: ErrorCode, message: string): void;
  /** disconnect: the connection dropped; a resubscribe follows when it is back. */
  onDisconnect(): void;
}

/** CloseInfo describes the last close of the socket. */
export interface CloseInfo {
  readonly code: number;
  readonly reason: string;
}

/** Connection is the one shared WebSocket connection of an app. */
export interface Connection {
  readonly url: string;
  readonly state: ConnectionState;
  /** lastClose is the last close the server (or network) caused. */
  readonly lastClose: CloseInfo | undefined;
  /** onState listens to state changes; it returns the unlisten function. */
  onState(listener: (state: ConnectionState) => void): () => void;
  /** subscribe adds a sink to a channel; it returns the unsubscribe function. */
  subscribe(channel: string, sink: ChannelSink): () => void;
  /** connect opens the connection now; subscribe does it on its own. */
  connect(): void;
  /** setToken stores a fresh token for the next connect, and sends it in an Auth frame when open. */
  setToken(token: string): void;
  /** reconnect drops the socket and reconnects at once, resubscribing every channel. */
  reconnect(): void;
  /** close closes for good: the state becomes "closed". */
  close(): void;
}

interface ChannelEntry {
  readonly sinks: Set<ChannelSink>;
  /** id of the Subscribe in flight or acknowledged on the current socket. */
  id: number;
  resumed: boolean;
  acked: boolean;
}

const OPEN = 1;

/** tokenSubprotocol returns "ssot.auth.<base64url(token)>". */
export function tokenSubprotocol(token: string): string {
  return authSubprotocolPrefix + base64Encode(new TextEncoder().encode(token), "url");
}

/**
 * createConnection returns the shared connection. It connects on the first
 * subscribe (or connect()), and from then on keeps itself connected until
 * close().
 */
export function createConnection(options: ConnectionOptions): Connection {
  const MaybeCtor = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketCtor }).WebSocket;
  if (!MaybeCtor) throw new Error("ssotws: no WebSocket implementation; pass options.WebSocket");
  const Ctor: WebSocketCtor = MaybeCtor;
  const win = options.window ?? (globalThis as { window?: EnvironmentLike }).window;
  const doc =
    options.document ??
    (globalThis as { document?: EnvironmentLike & { visibilityState?: string } }).document;

  let state: ConnectionState = "idle";
  let lastClose: CloseInfo | undefined;
  let token = options.token;
  let socket: WebSocketLike | undefined;
  let attempt = 0;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let pingTimer: ReturnType<typeof setInterval> | undefined;
  let pongTimer: ReturnType<typeof setTimeout> | undefined;
  let nextId = 1;
  let nonce = 0n;
  let started = false;
  let connecting = 0; // generation of the connect in progress
  const listeners = new Set<(s: ConnectionState) => void>();
  const channels = new Map<string, ChannelEntry>();
  const byId = new Map<number, string>();

  function setState(s: ConnectionState) {
    if (s === state) return;
    state = s;
    for (const l of [...listeners]) l(s);
  }

  function send(frame: MessageInitShape<typeof ClientFrameSchema>) {
    if (socket?.readyState !== OPEN) return;
    socket.send(toBinary(ClientFrameSchema, create(ClientFrameSchema, frame)));
  }

  function sendSubscribe(channel: string, entry: ChannelEntry) {
    let since: Position | undefined;
    for (const sink of entry.sinks) {
      const p = sink.since();
      if (!p) {
        since = undefined;
        break;
      }
      // Several sinks: the earliest position of one epoch, else none.
      if (!since) since = p;
      else if (since.epoch !== p.epoch) {
        since = undefined;
        break;
      } else if (p.offset < since.offset) since = p;
    }
    entry.id = nextId++;
    entry.resumed = since !== undefined;
    entry.acked = false;
    byId.set(entry.id, channel);
    send({ frame: { case: "subscribe", value: since ? { id: entry.id, channel, since } : { id: entry.id, channel } } });
  }

  function onFrame(frame: ServerFrame) {
    const f = frame.frame;
    switch (f.case) {
      case "ack": {
        const channel = byId.get(f.value.id);
        const entry = channel === undefined ? undefined : channels.get(channel);
        if (!entry || entry.id !== f.value.id) return; // an Unsubscribe's, or stale
        entry.acked = true;
        for (const sink of [...entry.sinks]) sink.onAck(f.value.position, entry.resumed);
        return;
      }
      case "reset": {
        const entry = channels.get(f.value.channel);
        if (!entry) return;
        for (const sink of [...entry.sinks]) sink.onReset(f.value.position);
        return;
      }
      case "error": {
        const channel = byId.get(f.value.id);
        const entry = channel === undefined ? undefined : channels.get(channel);
        if (!entry || entry.id !== f.value.id) return;
        byId.delete(f.value.id);
        for (const sink of [...entry.sinks]) sink.onError(f.value.code, f.value.message);
        return;
      }
      case "events": {
        // Group by channel, keeping order within each.
        const groups = new Map<string, Event[]>();
        for (const e of f.value.events) {
          const g = groups.get(e.channel);
          if (g) g.push(e);
          else groups.set(e.channel, [e]);
        }
        for (const [channel, events] of groups) {
          const entry = channels.get(channel);
          if (!entry) continue;
          for (const sink of [...entry.sinks]) sink.onEvents(events);
        }
        return;
      }
      case "pong":
      case undefined:
        return;
    }
  }

  function stopKeepalive() {
    if (pingTimer !== undefined) clearInterval(pingTimer);
    if (pongTimer !== undefined) clearTimeout(pongTimer);
    pingTimer = pongTimer = undefined;
  }

  function startKeepalive(ws: WebSocketLike) {
    const ka = options.keepalive;
    if (!ka || ka.intervalMs <= 0) return;
    pingTimer = setInterval(() => {
      send({ frame: { case: "ping", value: { nonce: ++nonce } } });
      if (pongTimer === undefined) {
        pongTimer = setTimeout(() => {
          pongTimer = undefined;
          if (socket === ws) dropSocket(ws, { code: 4000, reason: "keepalive timeout" });
        }, ka.timeoutMs);
      }
    }, ka.intervalMs);
  }

  function scheduleReconnect() {
    if (state === "closed") return;
    setState("reconnecting");
    clearRetry();
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      void open();
    }, backoffDelay(attempt, options.backoff));
    attempt++;
  }

  function clearRetry() {
    if (retryTimer !== undefined) clearTimeout(retryTimer);
    retryTimer = undefined;
  }

  // dropSocket forgets a socket that closed (or that we gave up on) and
  // tells every channel; a reconnect follows unless the close is final.
  function dropSocket(ws: WebSocketLike, info: CloseInfo) {
    if (socket !== ws) return;
    socket = undefined;
    ws.onopen = ws.onclose = ws.onmessage = ws.onerror = null;
    if (ws.readyState <= OPEN) {
      try {
        ws.close(4000, info.reason);
      } catch {
        // already closing
      }
    }
    stopKeepalive();
    byId.clear();
    lastClose = info;
    for (const entry of channels.values()) for (const sink of [...entry.sinks]) sink.onDisconnect();
    if (state === "closed") return;
    // Every close, 4401/4403 included, is retried with backoff, as the Go
    // client does: a refreshed token (getToken, setToken) may be accepted.
    scheduleReconnect();
  }

  async function open() {
    if (state === "closed" || socket) return;
    clearRetry();
    const gen = ++connecting;
    setState(attempt === 0 && state !== "reconnecting" ? "connecting" : "reconnecting");
    let tok = token;
    if (options.getToken) {
      try {
        tok = (await options.getToken()) ?? undefined;
      } catch {
        tok = undefined;
      }
      // close() or another open() may have run meanwhile.
      if (gen !== connecting || (state as ConnectionState) === "closed" || socket) return;
    }
    const protocols = tok ? [subprotocol, tokenSubprotocol(tok)] : [subprotocol];
    let ws: WebSocketLike;
    try {
      ws = new Ctor(options.url, protocols);
    } catch {
      scheduleReconnect();
      return;
    }
    socket = ws;
    ws.binaryType = "arraybuffer";
    // Blob payloads (binaryType ignored) are decoded in arrival order.
    let chain: Promise<void> = Promise.resolve();
    ws.onopen = () => {
      if (socket !== ws) return;
      attempt = 0;
      setState("open");
      startKeepalive(ws);
      for (const [channel, entry] of channels) sendSubscribe(channel, entry);
    };
    ws.onmessage = (ev) => {
      if (socket !== ws) return;
      if (pongTimer !== undefined) {
        clearTimeout(pongTimer);
        pongTimer = undefined;
      }
      const data = ev.data;
      const handle = (bytes: Uint8Array) => {
        if (socket !== ws) return;
        let frame: ServerFrame;
        try {
          frame = fromBinary(ServerFrameSchema, bytes);
        } catch {
          dropSocket(ws, { code: CloseCode.BadFrame, reason: "malformed server frame" });
          return;
        }
        onFrame(frame);
      };
      if (data instanceof ArrayBuffer) chain = chain.then(() => handle(new Uint8Array(data)));
      else if (data instanceof Uint8Array) chain = chain.then(() => handle(data));
      else if (typeof Blob !== "undefined" && data instanceof Blob) {
        chain = chain.then(async () => handle(new Uint8Array(await data.arrayBuffer())));
      }
      // Text frames are not part of the protocol: ignored.
    };
    ws.onclose = (ev) => dropSocket(ws, { code: ev.code, reason: ev.reason });
    ws.onerror = () => {
      // A close event follows an error; nothing to do here.
    };
  }

  function wake() {
    // The page came back online or visible: retry now instead of waiting.
    if (state === "reconnecting" && !socket) {
      clearRetry();
      void open();
    }
  }
  const onVisibility = () => {
    if (!doc?.visibilityState || doc.visibilityState === "visible") wake();
  };

  function start() {
    if (started || state === "closed") return;
    started = true;
    win?.addEventListener("online", wake);
    doc?.addEventListener("visibilitychange", onVisibility);
    void open();
  }

  const conn: Connection = {
    url: options.url,
    get state() {
      return state;
    },
    get lastClose() {
      return lastClose;
    },
    onState(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    subscribe(channel, sink) {
      let entry = channels.get(channel);
      const first = !entry;
      if (!entry) {
        entry = { sinks: new Set(), id: 0, resumed: false, acked: false };
        channels.set(channel, entry);
      }
      entry.sinks.add(sink);
      if (state === "closed") {
        // closed for good (close()) or refused: nothing will be heard
      } else if (!started) start();
      else if (first && state === "open") sendSubscribe(channel, entry);
      else if (!first && state === "open" && entry.acked) {
        // A late sink of a live channel: tell it the subscription is active.
        const e = entry;
        queueMicrotask(() => {
          if (e.sinks.has(sink) && channels.get(channel) === e) sink.onAck(undefined, false);
        });
      }
      let done = false;
      return () => {
        if (done) return;
        done = true;
        const e = channels.get(channel);
        if (!e) return;
        e.sinks.delete(sink);
        if (e.sinks.size > 0) return;
        channels.delete(channel);
        byId.delete(e.id);
        if (state === "open") send({ frame: { case: "unsubscribe", value: { id: nextId++, channel } } });
      };
    },
    connect() {
      start();
    },
    setToken(t) {
      token = t;
      if (state === "open") send({ frame: { case: "auth", value: { token: t } } });
    },
    reconnect() {
      if (!started) return start();
      if (state === "closed") return;
      if (socket) dropSocket(socket, { code: 4000, reason: "reconnect" });
      attempt = 0;
      clearRetry();
      void open();
    },
    close() {
      if (state === "closed") return;
      setState("closed");
      clearRetry();
      stopKeepalive();
      win?.removeEventListener("online", wake);
      doc?.removeEventListener("visibilitychange", onVisibility);
      const ws = socket;
      socket = undefined;
      if (ws) {
        ws.onopen = ws.onclose = ws.onmessage = ws.onerror = null;
        try {
          ws.close(1000, "closed");
        } catch {
          // ignore
        }
      }
      for (const entry of channels.values()) for (const sink of [...entry.sinks]) sink.onDisconnect();
    },
  };
  return conn;
}
