// The options of the shared connection (Go: ssotws/client/conn_options.go).

import type { TokenProvider } from "./auth.js";
import type { BackoffOptions } from "./backoff.js";
import type { ConnectionLogger } from "./conn_log.js";
import type { CloseInfo, WebSocketCtor } from "./link.js";

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
  /**
   * noDeltas asks the gateway for whole records in every event, as clients
   * before field-level deltas did (Go: ConnOptions.NoDeltas). By default
   * each channel asks for deltas: an update of a few fields sends those.
   */
  readonly noDeltas?: boolean;
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
  /**
   * logger receives a record of each change of state, with the reason in
   * words (Go: ConnOptions.Logger); `console` will do. None by default: a
   * page shows the state itself (onState, lastError).
   */
  readonly logger?: ConnectionLogger;
}
