// The reconnect policy: what the connection does when a socket (or an
// attempt) ends. A pure function of what ended it and of the redial
// state, the twin of the Go client's ssotws/client/policy.go; both are
// tested against one table, testdata/reconnect-policy.json at the root of
// the repository. docs/client-semantics.md ("Close codes") is its spec.

import type { TokenReason } from "./auth.js";
import { CloseCode } from "./link.js";

/** Drop is what ended a socket or an attempt. */
export interface Drop {
  /** code is the close code; 0 (or absent) when there is none (a network error, a failed dial). */
  readonly code?: number;
  /** accepted: the server sent a frame on the socket, so it accepted the token. */
  readonly accepted?: boolean;
  /** tokenFailed: the token provider failed; nothing was dialled. */
  readonly tokenFailed?: boolean;
  /** tooLarge: a server message over the client's read limit (the Go client has one). */
  readonly tooLarge?: boolean;
}

/** RedialState is what the connection remembers between attempts. */
export interface RedialState {
  /** attempt counts the backoff waits since the server last accepted a socket. */
  readonly attempt: number;
  /** authRetried: a 4401 was answered with a new token and a dial at once, and no socket was accepted since. */
  readonly authRetried: boolean;
  /** reason is why the provider was asked for the last dial. */
  readonly reason: TokenReason;
  /** provider: a token provider can give another token (false: a static token). */
  readonly provider: boolean;
}

/** Verdict is what to do next. */
export type Verdict = "reconnect-now" | "reconnect-after-backoff" | "stop-unauthenticated" | "stop-forbidden";

/** Decision is the policy's answer. */
export interface Decision {
  readonly do: Verdict;
  /** backoff is the attempt whose backoffDelay to wait, when do is "reconnect-after-backoff". */
  readonly backoff: number;
  /** reason is why the provider is asked at the next dial. */
  readonly reason: TokenReason;
  /** report: the close reveals a bug on one side (1008, 1009). */
  readonly report: boolean;
  /** resume: the channels resume from their positions; false: they subscribe afresh and refetch. */
  readonly resume: boolean;
  /** next is the redial state after this decision. */
  readonly next: RedialState;
}

/** policy decides what follows a drop. */
export function policy(drop: Drop, state: RedialState): Decision {
  let { attempt, authRetried } = state;
  if (drop.accepted) {
    // The server accepted the socket: the waits and the 4401 retry start over.
    attempt = 0;
    authRetried = false;
  }
  let verdict: Verdict = "reconnect-after-backoff";
  let reason: TokenReason = "current";
  let report = false;
  if (drop.tokenFailed) {
    // No token, no dial: ask again, for the same reason, after a wait.
    reason = state.reason;
  } else {
    switch (drop.code ?? 0) {
      case CloseCode.Forbidden:
        // A token of another user: this connection and its caches belong to the previous one.
        verdict = "stop-forbidden";
        break;
      case CloseCode.TokenExpired:
        reason = "expired";
        // At once, unless the token was expired already at the handshake:
        // a provider that keeps giving expired tokens is not hammered.
        if (!state.provider) verdict = "stop-unauthenticated";
        else if (drop.accepted) verdict = "reconnect-now";
        break;
      case CloseCode.Unauthenticated:
        reason = "rejected";
        // Refused again before any socket was accepted: signed out.
        if (!state.provider || authRetried) verdict = "stop-unauthenticated";
        else {
          verdict = "reconnect-now";
          authRetried = true;
        }
        break;
      case CloseCode.BadFrame:
      case CloseCode.TooBig:
        report = true;
        break;
    }
  }
  let backoff = 0;
  if (verdict === "reconnect-after-backoff") backoff = attempt++;
  return {
    do: verdict,
    backoff,
    reason,
    report,
    resume: !drop.tooLarge,
    next: { attempt, authRetried, reason, provider: state.provider },
  };
}
