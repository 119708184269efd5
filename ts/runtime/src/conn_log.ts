// What a connection tells a person (Go: ssotws/client/conn_log.go): the
// meaning of a close code in words, and, when ConnectionOptions.logger is
// set, a record of each change of state with the same messages as the Go
// client's log: connected, connected again, lost, could not connect at
// info, each further failed attempt at debug, a stop at warn.

import { CloseCode } from "./protocol.js";
import type { CloseInfo } from "./link.js";

/** ConnectionLogger receives the connection's records; `console` is one. */
export interface ConnectionLogger {
  info(message: string, attrs: Record<string, unknown>): void;
  warn(message: string, attrs: Record<string, unknown>): void;
  debug(message: string, attrs: Record<string, unknown>): void;
}

/** closeMeaning says what a close code means for this client. */
export function closeMeaning(code: number): string {
  switch (code) {
    case 1000:
      return "the server closed the connection normally";
    case CloseCode.GOING_AWAY:
      return "the server is going away (restarting or shutting down)";
    case CloseCode.BAD_FRAME:
      return "the server refused a frame of this client";
    case CloseCode.TOO_LARGE:
      return "a frame was too large";
    case CloseCode.UNAUTHENTICATED:
      return "the server refused the token";
    case CloseCode.FORBIDDEN:
      return "the server refused a token of another user";
    case CloseCode.TOKEN_EXPIRED:
      return "the token expired";
    case CloseCode.TOO_SLOW:
      return "a limit was exceeded (too many connections, frames too fast, or too slow to read)";
  }
  return "the connection was closed";
}

/**
 * dropReason says in words why a connection or an attempt ended: the
 * meaning of its close code, or, for an attempt that opened no socket
 * (code 0), what failed.
 */
export function dropReason(info: CloseInfo): string {
  if (info.code === 0) return info.reason;
  if (info.code === 1006) return "the connection broke, or the server could not be reached";
  return closeMeaning(info.code);
}

/** ConnLog writes a connection's records to a logger, if one is set. */
export interface ConnLog {
  /** opened: a connection the server accepted; again after a drop, down since downAt (ms). */
  opened(again: boolean, downAt: number): void;
  /** dropped: a lost connection (accepted) or a failed attempt (failing: not the first in a row). */
  dropped(info: CloseInfo, accepted: boolean, failing: boolean, attempt: number): void;
  /** stopped: the connection stopped dialling until reconnect() or setToken(). */
  stopped(state: "unauthenticated" | "forbidden", info: CloseInfo | undefined): void;
}

export function connLog(logger: ConnectionLogger | undefined, url: string): ConnLog {
  const attrs = (info: CloseInfo, more: Record<string, unknown>) => ({
    url,
    reason: dropReason(info),
    ...(info.code > 0 ? { code: info.code } : {}),
    ...more,
  });
  return {
    opened(again, downAt) {
      if (!again) logger?.info("ssotws: connected", { url });
      else logger?.info("ssotws: connected again; the channels resume", { url, downForMs: Date.now() - downAt });
    },
    dropped(info, accepted, failing, attempt) {
      if (!logger) return;
      if (accepted) logger.info("ssotws: connection lost; reconnecting", attrs(info, { attempt }));
      else if (!failing) logger.info("ssotws: could not connect; retrying", attrs(info, { attempt }));
      else logger.debug("ssotws: connection attempt failed; retrying", attrs(info, { attempt }));
    },
    stopped(state, info) {
      if (!logger) return;
      const message =
        state === "forbidden"
          ? "ssotws: the token now names another user; not reconnecting (close this connection, open a new one for that user)"
          : "ssotws: signed out; not reconnecting until reconnect() (after a new sign-in)";
      logger.warn(message, info ? attrs(info, { state }) : { url, state });
    },
  };
}
