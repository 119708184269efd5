// The link: one WebSocket to the gateway, dialled with a token, and what
// serves it (the frame decoding, the handshake timeout, the keepalive, the
// token refresh on the open socket). The twin of the Go client's
// ssotws/client/link.go.

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { base64Encode } from "@bufbuild/protobuf/wire";
import { ClientFrameSchema, CloseCode as CloseCodes, ServerFrameSchema } from "../gen/ssot/ws/v1/frame_pb.js";
import type { ServerFrame } from "../gen/ssot/ws/v1/frame_pb.js";
import { callProvider, refreshAt } from "./auth.js";
import type { Token, TokenProvider } from "./auth.js";
import { backoffDelay } from "./backoff.js";
import type { BackoffOptions } from "./backoff.js";
import { authSubprotocolPrefix, subprotocol } from "./protocol.js";

export { authSubprotocolPrefix, subprotocol } from "./protocol.js";

/**
 * Close codes of the gateway, by the names this package has always
 * exported; the values are frame.proto's CloseCode enum (protocol.ts).
 */
export const CloseCode = {
  Unauthenticated: CloseCodes.UNAUTHENTICATED,
  Forbidden: CloseCodes.FORBIDDEN,
  TokenExpired: CloseCodes.TOKEN_EXPIRED,
  TooSlow: CloseCodes.TOO_SLOW,
  BadFrame: CloseCodes.BAD_FRAME,
  TooBig: CloseCodes.TOO_LARGE,
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

/** CloseInfo describes the last close of the socket. */
export interface CloseInfo {
  readonly code: number;
  readonly reason: string;
}

/** tokenSubprotocol returns "ssot.auth.<base64url(token)>". */
export function tokenSubprotocol(token: string): string {
  return authSubprotocolPrefix + base64Encode(new TextEncoder().encode(token), "url");
}

const OPEN = 1;

/** ClientFrameInit is a client frame to send. */
export type ClientFrameInit = MessageInitShape<typeof ClientFrameSchema>;

/** LinkOptions are what a link needs from the connection's options. */
export interface LinkOptions {
  readonly url: string;
  readonly WebSocket: WebSocketCtor;
  readonly handshakeTimeoutMs?: number;
  readonly keepalive?: { readonly intervalMs: number; readonly timeoutMs: number };
  readonly getToken?: TokenProvider;
  readonly backoff?: BackoffOptions;
}

/** LinkEvents are what a link tells its connection. */
export interface LinkEvents {
  /** opened: the socket opened; the Ping is sent, the subscriptions are next. */
  opened(): void;
  /** answered: the first server frame arrived: the server accepted the token. */
  answered(): void;
  frame(frame: ServerFrame): void;
  /** dropped: the socket closed or was given up; called once, not after close(). */
  dropped(info: CloseInfo, answered: boolean): void;
}

/** Link is one socket. */
export interface Link {
  /** isOpen: the socket is open, frames can be sent. */
  readonly isOpen: boolean;
  send(frame: ClientFrameInit): void;
  /** drop gives the socket up and tells the connection (dropped). */
  drop(info: CloseInfo): void;
  /** close closes the socket without telling the connection. */
  close(code: number, reason: string): void;
  /** sendToken sends a new token in an Auth frame and arms its refresh. */
  sendToken(token: Token): void;
}

/**
 * openLink dials options.url with token (throws when the WebSocket
 * constructor does). The socket's Ping goes first once it opens: its Pong
 * (or any frame) proves that the server accepted the token.
 */
export function openLink(options: LinkOptions, token: Token | undefined, events: LinkEvents): Link {
  const protocols = token ? [subprotocol, tokenSubprotocol(token.token)] : [subprotocol];
  const ws = new options.WebSocket(options.url, protocols);
  ws.binaryType = "arraybuffer";
  let live = true;
  let answered = false;
  let nonce = 0n;
  // current: the token of the socket (as dialled, or as last sent in an Auth frame).
  let current: (Token & { readonly obtainedAt: number }) | undefined = token && { ...token, obtainedAt: Date.now() };
  let refreshTimer: ReturnType<typeof setTimeout> | undefined;
  let refreshFailures = 0;
  let pingTimer: ReturnType<typeof setInterval> | undefined;
  let pongTimer: ReturnType<typeof setTimeout> | undefined;
  let handshakeTimer: ReturnType<typeof setTimeout> | undefined = setTimeout(() => {
    handshakeTimer = undefined;
    drop({ code: 1006, reason: "handshake timeout" });
  }, options.handshakeTimeoutMs ?? 30_000);

  function send(frame: ClientFrameInit) {
    if (!live || ws.readyState !== OPEN) return;
    ws.send(toBinary(ClientFrameSchema, create(ClientFrameSchema, frame)));
  }

  function stopTimers() {
    if (handshakeTimer !== undefined) clearTimeout(handshakeTimer);
    if (pingTimer !== undefined) clearInterval(pingTimer);
    if (pongTimer !== undefined) clearTimeout(pongTimer);
    if (refreshTimer !== undefined) clearTimeout(refreshTimer);
    handshakeTimer = pingTimer = pongTimer = refreshTimer = undefined;
  }

  function close(code: number, reason: string) {
    if (!live) return;
    live = false;
    ws.onopen = ws.onclose = ws.onmessage = ws.onerror = null;
    stopTimers();
    if (ws.readyState <= OPEN) {
      try {
        ws.close(code, reason);
      } catch {
        // already closing
      }
    }
  }

  function drop(info: CloseInfo) {
    if (!live) return;
    close(4000, info.reason);
    events.dropped(info, answered);
  }

  function startKeepalive() {
    const ka = options.keepalive;
    if (!ka || ka.intervalMs <= 0) return;
    pingTimer = setInterval(() => {
      send({ frame: { case: "ping", value: { nonce: ++nonce } } });
      if (pongTimer === undefined) {
        pongTimer = setTimeout(() => {
          pongTimer = undefined;
          drop({ code: 4000, reason: "keepalive timeout" });
        }, ka.timeoutMs);
      }
    }, ka.intervalMs);
  }

  // armRefresh schedules the provider call before the current token expires.
  function armRefresh() {
    if (refreshTimer !== undefined) clearTimeout(refreshTimer);
    refreshTimer = undefined;
    if (!live || !options.getToken || current?.expiresAt === undefined) return;
    const wait = Math.max(0, refreshAt(current.obtainedAt, current.expiresAt) - Date.now());
    refreshTimer = setTimeout(() => void refresh(), wait);
  }

  // refresh asks the provider for a new token and sends it in an Auth frame
  // on the open socket; silence is success. Without a new token (the
  // provider threw, gave none or the same one) it asks again with backoff
  // for as long as the socket lives; past the expiry the server closes
  // with 4408 and the reconnect asks for a fresh token.
  async function refresh() {
    refreshTimer = undefined;
    if (!live || !options.getToken) return;
    let next: Token | undefined;
    try {
      next = await callProvider(options.getToken, "refresh");
    } catch {
      next = undefined;
    }
    if (!live) return;
    if (next && next.token !== current?.token) {
      refreshFailures = 0;
      sendToken(next);
      return;
    }
    refreshTimer = setTimeout(() => void refresh(), backoffDelay(refreshFailures++, options.backoff));
  }

  function sendToken(tok: Token) {
    current = { ...tok, obtainedAt: Date.now() };
    send({ frame: { case: "auth", value: { token: tok.token } } });
    armRefresh();
  }

  // Blob payloads (binaryType ignored) are decoded in arrival order.
  let chain: Promise<void> = Promise.resolve();
  ws.onopen = () => {
    if (handshakeTimer !== undefined) clearTimeout(handshakeTimer);
    handshakeTimer = undefined;
    send({ frame: { case: "ping", value: { nonce: ++nonce } } });
    startKeepalive();
    armRefresh();
    events.opened();
  };
  ws.onmessage = (ev) => {
    if (!answered) {
      answered = true;
      events.answered();
    }
    if (pongTimer !== undefined) {
      clearTimeout(pongTimer);
      pongTimer = undefined;
    }
    const data = ev.data;
    const handle = (bytes: Uint8Array) => {
      if (!live) return;
      let frame: ServerFrame;
      try {
        frame = fromBinary(ServerFrameSchema, bytes);
      } catch {
        drop({ code: CloseCode.BadFrame, reason: "malformed server frame" });
        return;
      }
      events.frame(frame);
    };
    if (data instanceof ArrayBuffer) chain = chain.then(() => handle(new Uint8Array(data)));
    else if (data instanceof Uint8Array) chain = chain.then(() => handle(data));
    else if (typeof Blob !== "undefined" && data instanceof Blob) {
      chain = chain.then(async () => handle(new Uint8Array(await data.arrayBuffer())));
    }
    // Text frames are not part of the protocol: ignored.
  };
  ws.onclose = (ev) => drop({ code: ev.code, reason: ev.reason });
  ws.onerror = () => {
    // A browser follows an error with a close event (1006), but Node's
    // own WebSocket (Node 20) does not when the handshake fails (refused,
    // cut): it stays CONNECTING for good. An error is the end of the
    // socket either way (a clean close with the server's code is never
    // preceded by one); a close event that follows finds it dropped.
    drop({ code: 1006, reason: "error" });
  };

  return {
    get isOpen() {
      return live && ws.readyState === OPEN;
    },
    send,
    drop,
    close,
    sendToken,
  };
}
