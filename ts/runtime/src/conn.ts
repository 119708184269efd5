// The shared connection: one WebSocket per app, binary protobuf frames,
// multiplexed channel subscriptions, reconnect with backoff and jitter,
// resubscribe with `since`, and the reactions to the gateway's close codes
// (docs/client-semantics.md). The twin of the Go client's
// ssotws/client/conn.go: this file is the API and the redial loop; the
// socket is link.ts, the close-code reactions policy.ts, the channels
// router.ts.

import { callProvider, normalizeToken } from "./auth.js";
import type { Token, TokenReason } from "./auth.js";
import { backoffDelay } from "./backoff.js";
import type { ConnectionOptions, EnvironmentLike } from "./conn_options.js";
import { openLink } from "./link.js";
import type { CloseInfo, Link, WebSocketCtor } from "./link.js";
import { policy } from "./policy.js";
import type { Drop } from "./policy.js";
import { createPresenceRouter } from "./presence.js";
import type { JoinOptions, Presence, SignalOptions } from "./presence.js";
import { createRouter } from "./router.js";
import type { ChannelSink } from "./router.js";
import type { ConnectionState } from "./state.js";
import { post } from "./dispatcher.js";
import { connLog } from "./conn_log.js";

export type { BackoffOptions } from "./backoff.js";
export { backoffDelay } from "./backoff.js";
export type { ConnectionOptions, EnvironmentLike } from "./conn_options.js";
export type { CloseInfo, WebSocketCtor, WebSocketLike } from "./link.js";
export { CloseCode, authSubprotocolPrefix, subprotocol, tokenSubprotocol } from "./link.js";
export type { ChannelSink } from "./router.js";
export type { JoinOptions, Member, Presence, Signal, SignalOptions } from "./presence.js";
export { SignalError } from "./presence.js";
export type { ConnectionState } from "./state.js";

/** Connection is the one shared WebSocket connection of an app. */
export interface Connection {
  readonly url: string;
  readonly state: ConnectionState;
  /**
   * lastError is what keeps the connection from being open (Go's
   * Conn.LastError): undefined while open (and before the first attempt,
   * and after close()); while reconnecting, what ended the last connection
   * or attempt; when stopped, the refusal (4401 in "unauthenticated", 4403
   * in "forbidden"). Code 0 when no socket was opened (the token provider
   * failed, or the WebSocket constructor threw).
   */
  readonly lastError: CloseInfo | undefined;
  /**
   * lastDrop is what ended the last connection or attempt, kept after a
   * reconnect (Go's Conn.LastDrop).
   */
  readonly lastDrop: CloseInfo | undefined;
  /** @deprecated lastClose is the former name of lastDrop. */
  readonly lastClose: CloseInfo | undefined;
  /** onState listens to state changes; it returns the unlisten function. */
  onState(listener: (state: ConnectionState) => void): () => void;
  /** subscribe adds a sink to a channel; it returns the unsubscribe function. */
  subscribe(channel: string, sink: ChannelSink): () => void;
  /**
   * join enters the presence of channel (presence.ts): its members and
   * signals reach the options' callbacks until leave(). It connects, as
   * subscribe does, and joins again after every reconnect.
   */
  join(channel: string, options?: JoinOptions): Presence;
  /**
   * signal publishes an ephemeral message on channel and resolves when the
   * gateway accepted it; it rejects with a SignalError when refused or not
   * connected (signals are not kept for later).
   */
  signal(channel: string, name: string, data?: Uint8Array, options?: SignalOptions): Promise<void>;
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

/**
 * createConnection returns the shared connection. It connects on the first
 * subscribe (or connect()), and from then on keeps itself connected until
 * close().
 */
export function createConnection(options: ConnectionOptions): Connection {
  const MaybeCtor = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketCtor }).WebSocket;
  if (!MaybeCtor) throw new Error("ssotws: no WebSocket implementation; pass options.WebSocket");
  const linkOptions = { ...options, WebSocket: MaybeCtor };
  const win = options.window ?? (globalThis as { window?: EnvironmentLike }).window;
  const doc =
    options.document ??
    (globalThis as { document?: EnvironmentLike & { visibilityState?: string } }).document;

  const getToken = options.getToken;
  const reportProtocolError =
    options.onProtocolError ??
    ((info: CloseInfo) => console.error(`ssotws: connection closed with ${info.code} (${info.reason}): a client or server bug`));

  const log = connLog(options.logger, options.url);
  // everOpen: a connection was open before; downAt: when the last one was
  // lost (or the first attempt failed); failing: an attempt failed since.
  let everOpen = false;
  let downAt = 0;
  let failing = false;
  let state: ConnectionState = "idle";
  let lastError: CloseInfo | undefined;
  let lastDrop: CloseInfo | undefined;
  let staticToken: Token | undefined = normalizeToken(options.token);
  // staticRefused: the server refused the static token; it is not offered again.
  let staticRefused = false;
  // The redial state the policy reads and returns (policy.ts).
  let reason: TokenReason = "current";
  let authRetried = false;
  let attempt = 0;
  let link: Link | undefined;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let started = false;
  let connecting = 0; // generation of the connect in progress
  const listeners = new Set<(s: ConnectionState) => void>();
  const router = createRouter((frame) => link?.send(frame), { noDeltas: options.noDeltas ?? false });
  const presence = createPresenceRouter((frame) => {
    if (!link?.isOpen) return false;
    link.send(frame);
    return true;
  });

  function setState(s: ConnectionState) {
    if (s === state) return;
    state = s;
    if (s === "open" || s === "closed") lastError = undefined;
    for (const l of [...listeners]) l(s);
  }

  function clearRetry() {
    if (retryTimer !== undefined) clearTimeout(retryTimer);
    retryTimer = undefined;
  }

  // afterDrop does what the policy decides after a socket or an attempt ended.
  function afterDrop(drop: Drop, info: CloseInfo) {
    lastError = lastDrop = info;
    const accepted = drop.accepted ?? false;
    if (accepted || !failing) downAt = Date.now();
    if (accepted) failing = false;
    const d = policy(drop, { attempt, authRetried, reason, provider: getToken !== undefined });
    if (d.do === "stop-forbidden" || d.do === "stop-unauthenticated") failing = false;
    else {
      log.dropped(info, accepted, failing, attempt);
      failing = true;
    }
    ({ attempt, authRetried, reason } = d.next);
    if (d.report) reportProtocolError(info);
    switch (d.do) {
      case "stop-forbidden":
        // An Auth frame of another subject: this connection (and its
        // caches) belong to the previous user.
        return stop("forbidden");
      case "stop-unauthenticated":
        if (!getToken) staticRefused = true;
        return stop("unauthenticated");
      case "reconnect-now":
        clearRetry();
        setState("reconnecting");
        void open();
        return;
      case "reconnect-after-backoff":
        setState("reconnecting");
        clearRetry();
        retryTimer = setTimeout(() => {
          retryTimer = undefined;
          void open();
        }, backoffDelay(d.backoff, options.backoff));
    }
  }

  // dropped: the link closed (or was given up); every channel hears it.
  function dropped(l: Link, info: CloseInfo, answered: boolean) {
    if (link !== l) return;
    link = undefined;
    lastDrop = info;
    router.disconnected();
    presence.disconnected();
    if (state === "closed") return;
    afterDrop({ code: info.code, accepted: answered }, info);
  }

  // stop stops dialling until reconnect(), connect() or setToken().
  function stop(s: "unauthenticated" | "forbidden") {
    clearRetry();
    setState(s);
    log.stopped(s, lastError);
  }

  function stopped(): boolean {
    return state === "unauthenticated" || state === "forbidden";
  }

  // shutdown ends the connection for good: the state becomes "closed".
  function shutdown() {
    setState("closed");
    clearRetry();
    win?.removeEventListener("online", wake);
    doc?.removeEventListener("visibilitychange", onVisibility);
  }

  async function open() {
    if (state === "closed" || stopped() || link) return;
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
      if (gen !== connecting || (state as ConnectionState) === "closed" || stopped() || link) return;
      if (failed) return afterDrop({ tokenFailed: true }, { code: 0, reason: "the token provider failed" }); // no token now: ask again (same reason) after a wait
      reason = "current";
    } else if (staticRefused) {
      stop("unauthenticated"); // the static token was refused and nothing replaced it
      return;
    } else tok = staticToken;
    let l: Link;
    try {
      l = openLink(linkOptions, tok, {
        opened: () => {
          router.subscribeAll();
          presence.rejoinAll();
        },
        // The first server frame: the server accepted the token, the
        // connection is open.
        answered: () => {
          setState("open");
          log.opened(everOpen, downAt);
          everOpen = true;
          failing = false;
        },
        frame: (f) => {
          if (!presence.route(f)) router.route(f);
        },
        dropped: (info, answered) => dropped(l, info, answered),
      });
    } catch (e) {
      afterDrop({}, { code: 0, reason: `could not open a WebSocket: ${String(e)}` });
      return;
    }
    link = l;
  }

  function wake() {
    // The page came back online or visible: retry now instead of waiting.
    if (state === "reconnecting" && !link) {
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

  const conn: Connection = {
    url: options.url,
    get state() {
      return state;
    },
    get lastError() {
      return lastError;
    },
    get lastDrop() {
      return lastDrop;
    },
    get lastClose() {
      return lastDrop;
    },
    onState(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    subscribe(channel, sink) {
      const { entry, first } = router.entry(channel);
      entry.sinks.add(sink);
      const isOpen = link?.isOpen ?? false;
      if (entry.failed) {
        // A failed channel stays failed until all its subscribers left.
        const failed = entry.failed;
        post(() => {
          if (entry.sinks.has(sink) && router.channels.get(channel) === entry) sink.onError(failed.code, failed.message);
        });
      } else if (state === "closed") {
        // closed for good (close()) or refused: nothing will be heard
      } else if (!started) start();
      else if (first && isOpen) router.subscribe(channel, entry);
      else if (!first && isOpen && entry.acked) {
        // A late sink of a live channel: tell it the subscription is active.
        post(() => {
          if (entry.sinks.has(sink) && router.channels.get(channel) === entry) sink.onAck(undefined, false);
        });
      }
      let done = false;
      return () => {
        if (done) return;
        done = true;
        const e = router.channels.get(channel);
        if (!e) return;
        e.sinks.delete(sink);
        if (e.sinks.size > 0) return;
        router.remove(channel, e, link?.isOpen ?? false);
      };
    },
    join(channel, options) {
      const p = presence.join(channel, options ?? {});
      if (!started && state !== "closed") start();
      return p;
    },
    signal(channel, name, data, options) {
      return presence.signal(channel, name, data ?? new Uint8Array(), options ?? {});
    },
    connect() {
      start();
    },
    setToken(t, expiresAt) {
      const tok = normalizeToken({ token: t, expiresAt });
      staticToken = tok;
      staticRefused = false;
      if (stopped()) return restart();
      if (tok && link?.isOpen) link.sendToken(tok);
    },
    reconnect() {
      if (!started) return start();
      if (state === "closed") return;
      if (stopped()) return restart();
      link?.drop({ code: 4000, reason: "reconnect" });
      attempt = 0;
      clearRetry();
      void open();
    },
    close() {
      if (state === "closed") return;
      shutdown();
      const l = link;
      link = undefined;
      l?.close(1000, "closed");
      router.disconnected();
      presence.disconnected();
    },
  };
  return conn;
}
