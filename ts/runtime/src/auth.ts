// Authentication shared by both transports: the token provider, the
// refresh schedule, and the Connect interceptor that puts the token in
// `Authorization: Bearer` (docs/client-semantics.md, "Authentication").

import { Code, ConnectError } from "@connectrpc/connect";
import type { Interceptor } from "@connectrpc/connect";

/** TokenInfo is a token with its expiry, so the connection can refresh it in time. */
export interface TokenInfo {
  readonly token: string;
  /** expiresAt is a Date or epoch milliseconds (as Date.now()); omit when unknown. */
  readonly expiresAt?: Date | number | undefined;
}

/** TokenResult is what a {@link TokenProvider} returns: a token, a token with its expiry, or none. */
export type TokenResult = string | TokenInfo | undefined | null;

/**
 * TokenReason says why a {@link TokenProvider} is called (Go: TokenReason):
 * - "current": a dial or an HTTP call; a cached token not about to expire will do;
 * - "refresh": the open socket's token expires soon; one that expires later is wanted, same user;
 * - "expired": the server said the token expired (close 4408, or Unauthenticated "token expired");
 * - "rejected": the server refused the token (close 4401, or Unauthenticated): revoked or invalid.
 * For every reason but "current" a caching provider must return a new token.
 */
export type TokenReason = "current" | "refresh" | "expired" | "rejected";

/** TokenRequest is the argument of a {@link TokenProvider}. */
export interface TokenRequest {
  readonly reason: TokenReason;
}

/**
 * TokenProvider returns the bearer token to present. It is called before
 * every WebSocket dial, before the token expires (when it said when), and
 * by {@link createAuthInterceptor} before every HTTP call and after an
 * Unauthenticated answer; `reason` says why. A provider that throws means
 * "no token now": the dial waits (backoff) and asks again, an HTTP call fails.
 */
export type TokenProvider = (req: TokenRequest) => TokenResult | Promise<TokenResult>;

/** Token is a normalized {@link TokenResult}. */
export interface Token {
  readonly token: string;
  /** expiresAt in epoch milliseconds, when known. */
  readonly expiresAt: number | undefined;
}

/** normalizeToken turns a provider's answer into a {@link Token}; undefined when there is no token. */
export function normalizeToken(r: TokenResult): Token | undefined {
  if (r === undefined || r === null) return undefined;
  if (typeof r === "string") return r === "" ? undefined : { token: r, expiresAt: undefined };
  if (!r.token) return undefined;
  const e = r.expiresAt;
  const expiresAt = e instanceof Date ? e.getTime() : typeof e === "number" && Number.isFinite(e) ? e : undefined;
  return { token: r.token, expiresAt };
}

/** callProvider calls a provider and normalizes its answer; it rejects when the provider throws. */
export async function callProvider(p: TokenProvider, reason: TokenReason = "current"): Promise<Token | undefined> {
  return normalizeToken(await p({ reason }));
}

/** refreshLeadMaxMs caps how long before the expiry a token is refreshed. */
export const refreshLeadMaxMs = 30_000;

/**
 * refreshLead is how long before its expiry a token that lived lifetimeMs
 * is refreshed: 10 % of the lifetime, at most 30 s, but at least 1 s (half
 * the lifetime of a token that lives less than 2 s), so that a round trip
 * fits before the expiry. The same as the Go client's RefreshLead.
 */
export function refreshLead(lifetimeMs: number): number {
  if (!(lifetimeMs > 0)) return 0;
  return Math.min(refreshLeadMaxMs, Math.max(lifetimeMs / 10, Math.min(1000, lifetimeMs / 2)));
}

/**
 * refreshAt returns when (epoch ms) to refresh a token obtained at
 * obtainedAt that expires at expiresAt: {@link refreshLead} before the expiry.
 */
export function refreshAt(obtainedAt: number, expiresAt: number): number {
  return expiresAt - refreshLead(expiresAt - obtainedAt);
}

/** headerAuthorization is the header the interceptor sets. */
export const headerAuthorization = "Authorization";

/** tokenExpiredMessage is the message of the server's Unauthenticated for an expired token (ssotws.ErrTokenExpired). */
export const tokenExpiredMessage = "ssotws: token expired";

/**
 * createAuthInterceptor returns a connect-es interceptor that sets
 * `Authorization: Bearer <token>` from getToken (reason "current") on every
 * call (no header when it has no token), and, when a unary call fails with
 * Unauthenticated, asks getToken again (reason "expired" or "rejected") and
 * retries the call once with the new token (same request, so the same
 * Idempotency-Key). It does not retry when the provider returns the token
 * just refused or throws; the call fails with the server's error. A
 * provider that throws before the first attempt fails the call with its
 * error (code Unauthenticated). Streaming calls get the header, no retry.
 *
 *     const transport = createConnectTransport({ baseUrl, interceptors: [createAuthInterceptor(getToken)] });
 */
export function createAuthInterceptor(getToken: TokenProvider): Interceptor {
  return (next) => async (req) => {
    let first: string | undefined;
    try {
      first = (await callProvider(getToken, "current"))?.token;
    } catch (err) {
      throw ConnectError.from(err, Code.Unauthenticated);
    }
    if (first !== undefined) req.header.set(headerAuthorization, `Bearer ${first}`);
    try {
      return await next(req);
    } catch (err) {
      if (req.stream || !(err instanceof ConnectError) || err.code !== Code.Unauthenticated) throw err;
      if (req.signal.aborted) throw err;
      const reason = err.rawMessage === tokenExpiredMessage ? "expired" : "rejected";
      let fresh: string | undefined;
      try {
        fresh = (await callProvider(getToken, reason))?.token;
      } catch {
        throw err; // nothing new to try
      }
      if (fresh === first) throw err;
      if (fresh === undefined) req.header.delete(headerAuthorization);
      else req.header.set(headerAuthorization, `Bearer ${fresh}`);
      return await next(req);
    }
  };
}
