// The WebSocket transport: one shared connection per app, binary protobuf
// frames, multiplexed channel subscriptions, reconnect with backoff and
// jitter, resubscribe with `since`, token refresh on the open socket and
// the reactions to the gateway's close codes (docs/client-semantics.md).

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { base64Encode } from "@bufbuild/protobuf/wire";
import { ClientFrameSchema, ErrorCode, ServerFrameSchema } from "../gen/ssot/ws/v1/frame_pb.js";
import type { Event, Position, ServerFrame } from "../gen/ssot/ws/v1/frame_pb.js";
import { callProvider, normalizeToken, refreshAt } from "./auth.js";
import type { Token, TokenProvider, TokenReason } from "./auth.js";

/**
 * ConnectionState is the observable state of the shared connection
 * (the same names as the Go client's State.String()).
 * - "connecting" / "reconnecting": dialling, or waiting to; a socket that
 *   opened counts as "open" only once the server answered on it (the Pong
 *   of the Ping sent first), i.e. accepted its token.
 * - "closed": after close().
 * - "unauthenticated": signed out. The server refused the token (4401) and
 *   then the fresh one too, before accepting any; or a refused static token
 *   has no successor. Nothing is dialled until reconnect(), connect() or
 *   setToken() (e.g. after a new sign-in).
 * - "forbidden": the server refused a refreshed token of another user on
 *   the connection (4403). Nothing is dialled; close() it and use a new
 *   connection for the new user (reconnect() would resume the old caches).
 */
export type ConnectionState =
  | "idle"
  | "connecting"
  | "open"
  | "reconnecting"
  | "closed"
  | "unauthenticated"
  | "forbidden"
  | "unavailable";

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
  /**
   * token is a static bearer token, offered as the "ssot.auth.<base64url>"
   * subprotocol. Once refused (4401/4408) it is not offered again: the state
   * becomes "unauthenticated" until setToken gives the next one.
   */
  readonly token?: string;
  /**
   * getToken is asked for a token before every dial (it wins over token),
   * and, when it gave an expiry, refreshLead(lifetime) before it (10 %, 1–30 s),
   * to send an Auth frame on the open socket. When it throws, the dial
   * waits (backoff) and asks again. The same provider serves HTTP through
   * createAuthInterceptor.
   */
  readonly getToken?: TokenProvider;
  /**
   * onProtocolError hears closes that reveal a bug on one side (1008 bad
   * frame, 1009 frame too large); console.error by default. The connection
   * reconnects with backoff after it.
   */
  readonly onProtocolError?: (info: CloseInfo) => void;
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
  /**
   * handshakeTimeoutMs gives up a socket that neither opened nor failed
   * within it (a server that accepted the TCP connection and never
   * answered the upgrade), and reconnects with backoff: 30 s by default,
   * the Go client's dial timeout.
   */
  readonly handshakeTimeoutMs?: number;
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
  /**
   * setToken stores a token for the next dial (used when there is no
   * getToken) and sends it in an Auth frame when open. In the
   * "unauthenticated" (or "forbidden") state it starts connecting again.
   */
  setToken(token: string, expiresAt?: Date | number): void;
  /**
   * reconnect drops the socket and reconnects at once, resubscribing every
   * channel; from "unauthenticated" or "forbidden" it starts over, asking
   * the provider for a new token (e.g. after a new sign-in).
   */
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
  /** failed: the gateway dropped the acknowledged subscription (an Error frame after a token refresh); never resubscribed. */
  failed: { code: ErrorCode; message: string } | undefined;
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

  const getToken = options.getToken;
  const reportProtocolError =
    options.onProtocolError ??
    ((info: CloseInfo) => console.error(`ssotws: connection closed with ${info.code} (${info.reason}): a client or server bug`));

  let state: ConnectionState = "idle";
  let lastClose: CloseInfo | undefined;
  let staticToken: Token | undefined = normalizeToken(options.token);
  // staticRefused: the server refused the static token; it is not offered again.
  let staticRefused = false;
  // current: the token of the socket (as dialled, or as last sent in an Auth frame).
  let current: (Token & { readonly obtainedAt: number }) | undefined;
  // reason: why the provider is asked at the next dial.
  let reason: TokenReason = "current";
  // authRetried: a 4401 was answered with a fresh token and an immediate
  // dial; cleared once the server answers a socket.
  let authRetried = false;
  // socketAnswered: the server sent a frame on the current socket.
  let socketAnswered = false;
  let refreshTimer: ReturnType<typeof setTimeout> | undefined;
  let refreshFailures = 0;
  let socket: WebSocketLike | undefined;
  let attempt = 0;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let pingTimer: ReturnType<typeof setInterval> | undefined;
  let pongTimer: ReturnType<typeof setTimeout> | undefined;
  let handshakeTimer: ReturnType<typeof setTimeout> | undefined;
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
        // An error after the Ack: the gateway dropped the subscription (a
        // token refresh no longer allows it). It is not resubscribed, here
        // or after a reconnect (docs/client-semantics.md). A refused
        // Subscribe is tried again on the next connection.
        if (entry.acked) entry.failed = { code: f.value.code, message: f.value.message };
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
          if (!entry || entry.failed) continue;
          for (const sink of [...entry.sinks]) sink.onEvents(events);
        }
        return;
      }
      case "pong":
      case undefined:
        return;
    }
  }

  function clearHandshake() {
    if (handshakeTimer !== undefined) clearTimeout(handshakeTimer);
    handshakeTimer = undefined;
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
    const wasAnswered = socketAnswered;
    socketAnswered = false;
    ws.onopen = ws.onclose = ws.onmessage = ws.onerror = null;
    if (ws.readyState <= OPEN) {
      try {
        ws.close(4000, info.reason);
      } catch {
        // already closing
      }
    }
    stopKeepalive();
    clearHandshake();
    clearRefresh();
    byId.clear();
    lastClose = info;
    for (const entry of channels.values()) {
      if (entry.failed) continue;
      for (const sink of [...entry.sinks]) sink.onDisconnect();
    }
    if (state === "closed") return;
    switch (info.code) {
      case CloseCode.Forbidden:
        // An Auth frame of another subject: this connection (and its
        // caches) belong to the previous user.
        stop("forbidden");
        return;
      case CloseCode.TokenExpired:
        reason = "expired";
        if (!getToken) {
          staticRefused = true;
          stop("unauthenticated");
          return;
        }
        // A fresh token and a dial at once, unless the token was expired
        // already at the handshake: a provider that keeps handing out
        // expired tokens is not hammered (backoff).
        if (wasAnswered) return reconnectNow();
        break;
      case CloseCode.Unauthenticated:
        reason = "rejected";
        if (!getToken) {
          staticRefused = true;
          stop("unauthenticated");
          return;
        }
        // One immediate dial with a fresh token; refused again before the
        // server accepted a connection: signed out.
        if (authRetried) {
          stop("unauthenticated");
          return;
        }
        authRetried = true;
        return reconnectNow();
      case CloseCode.BadFrame:
      case CloseCode.TooBig:
        reportProtocolError(info);
        break;
    }
    scheduleReconnect();
  }

  function reconnectNow() {
    clearRetry();
    setState("reconnecting");
    void open();
  }

  // stop stops dialling until reconnect(), connect() or setToken().
  function stop(s: "unauthenticated" | "forbidden") {
    clearRetry();
    clearRefresh();
    setState(s);
  }

  function stopped(): boolean {
    return state === "unauthenticated" || state === "forbidden";
  }

  // answered: the server sent the first frame on the socket, so it
  // accepted the token: the connection is open.
  function answered() {
    socketAnswered = true;
    authRetried = false;
    attempt = 0;
    setState("open");
  }

  function clearRefresh() {
    if (refreshTimer !== undefined) clearTimeout(refreshTimer);
    refreshTimer = undefined;
  }

  // armRefresh schedules the provider call before the current token expires.
  function armRefresh(ws: WebSocketLike) {
    clearRefresh();
    if (!getToken || current?.expiresAt === undefined) return;
    const wait = Math.max(0, refreshAt(current.obtainedAt, current.expiresAt) - Date.now());
    refreshTimer = setTimeout(() => void refresh(ws), wait);
  }

  // refresh asks the provider for a new token and sends it in an Auth frame
  // on the open socket; silence is success. Without a new token (the
  // provider threw, gave none or the same one) it asks again with backoff
  // for as long as the socket lives; past the expiry the server closes
  // with 4408 and the reconnect asks for a fresh token.
  async function refresh(ws: WebSocketLike) {
    refreshTimer = undefined;
    if (socket !== ws || !getToken) return;
    let next: Token | undefined;
    try {
      next = await callProvider(getToken, "refresh");
    } catch {
      next = undefined;
    }
    if (socket !== ws) return;
    if (next && next.token !== current?.token) {
      refreshFailures = 0;
      current = { ...next, obtainedAt: Date.now() };
      send({ frame: { case: "auth", value: { token: next.token } } });
      armRefresh(ws);
      return;
    }
    refreshTimer = setTimeout(() => void refresh(ws), backoffDelay(refreshFailures++, options.backoff));
  }

  // shutdown ends the connection for good: the state becomes "closed".
  function shutdown() {
    setState("closed");
    clearRetry();
    clearRefresh();
    stopKeepalive();
    clearHandshake();
    win?.removeEventListener("online", wake);
    doc?.removeEventListener("visibilitychange", onVisibility);
  }

  async function open() {
    if (state === "closed" || stopped() || socket) return;
    clearRetry();
    const gen = ++connecting;
    setState(attempt === 0 && state !== "reconnecting" ? "connecting" : "reconnecting");
    let tok: Token | undefined;
    if (getToken) {
      let failed = false;
      try {
        tok = await callProvider(getToken, reason);
      } catch {
        failed = true;
      }
      // close() or another open() may have run meanwhile.
      if (gen !== connecting || (state as ConnectionState) === "closed" || stopped() || socket) return;
      if (failed) {
        scheduleReconnect(); // no token now: ask again (same reason) after a wait
        return;
      }
      reason = "current";
    } else if (staticRefused) {
      stop("unauthenticated"); // the static token was refused and nothing replaced it
      return;
    } else tok = staticToken;
    current = tok && { ...tok, obtainedAt: Date.now() };
    const protocols = tok ? [subprotocol, tokenSubprotocol(tok.token)] : [subprotocol];
    let ws: WebSocketLike;
    try {
      ws = new Ctor(options.url, protocols);
    } catch {
      scheduleReconnect();
      return;
    }
    socket = ws;
    ws.binaryType = "arraybuffer";
    clearHandshake();
    handshakeTimer = setTimeout(() => {
      handshakeTimer = undefined;
      if (socket === ws) dropSocket(ws, { code: 1006, reason: "handshake timeout" });
    }, options.handshakeTimeoutMs ?? 30_000);
    // Blob payloads (binaryType ignored) are decoded in arrival order.
    let chain: Promise<void> = Promise.resolve();
    ws.onopen = () => {
      if (socket !== ws) return;
      clearHandshake();
      // A Ping first: its Pong (or any frame) proves the server accepted
      // the token; the state becomes "open" and the attempt count resets
      // only then.
      send({ frame: { case: "ping", value: { nonce: ++nonce } } });
      startKeepalive(ws);
      refreshFailures = 0;
      armRefresh(ws);
      for (const [channel, entry] of channels) if (!entry.failed) sendSubscribe(channel, entry);
    };
    ws.onmessage = (ev) => {
      if (socket !== ws) return;
      if (!socketAnswered) answered();
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
      // A browser follows an error with a close event (1006), but Node's
      // own WebSocket (Node 20) does not when the handshake fails (refused,
      // cut): it stays CONNECTING for good. An error is the end of the
      // socket either way (a clean close with the server's code is never
      // preceded by one); a close event that follows finds it dropped.
      dropSocket(ws, { code: 1006, reason: "error" });
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
    if (stopped()) return restart();
    if (started || state === "closed") return;
    started = true;
    win?.addEventListener("online", wake);
    doc?.addEventListener("visibilitychange", onVisibility);
    void open();
  }

  // restart leaves "unauthenticated" or "forbidden": retries and waits
  // start over; the provider is asked with the reason of the refusal.
  function restart() {
    authRetried = false;
    attempt = 0;
    clearRetry();
    setState("reconnecting");
    void open();
  }

  function socketOpen(): boolean {
    return socket?.readyState === OPEN;
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
        entry = { sinks: new Set(), id: 0, resumed: false, acked: false, failed: undefined };
        channels.set(channel, entry);
      }
      entry.sinks.add(sink);
      if (entry.failed) {
        // A failed channel stays failed until all its subscribers left.
        const e = entry;
        const failed = entry.failed;
        queueMicrotask(() => {
          if (e.sinks.has(sink) && channels.get(channel) === e) sink.onError(failed.code, failed.message);
        });
      } else if (state === "closed") {
        // closed for good (close()) or refused: nothing will be heard
      } else if (!started) start();
      else if (first && socketOpen()) sendSubscribe(channel, entry);
      else if (!first && socketOpen() && entry.acked) {
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
        if (socketOpen() && !e.failed) send({ frame: { case: "unsubscribe", value: { id: nextId++, channel } } });
      };
    },
    connect() {
      start();
    },
    setToken(t, expiresAt) {
      const tok = normalizeToken({ token: t, expiresAt });
      staticToken = tok;
      staticRefused = false;
      if (stopped()) return restart();
      if (socketOpen() && tok && socket) {
        current = { ...tok, obtainedAt: Date.now() };
        send({ frame: { case: "auth", value: { token: tok.token } } });
        armRefresh(socket);
      }
    },
    reconnect() {
      if (!started) return start();
      if (state === "closed") return;
      if (stopped()) return restart();
      if (socket) dropSocket(socket, { code: 4000, reason: "reconnect" });
      attempt = 0;
      clearRetry();
      void open();
    },
    close() {
      if (state === "closed") return;
      shutdown();
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
      for (const entry of channels.values()) {
        if (entry.failed) continue;
        for (const sink of [...entry.sinks]) sink.onDisconnect();
      }
    },
  };
  return conn;
}
