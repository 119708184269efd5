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
 * TokenProvider returns the current bearer token. It is called before every
 * WebSocket dial, before the token expires (when it said when), and by
 * {@link createAuthInterceptor} before every HTTP call and after an
 * Unauthenticated answer. Return a fresh token each time it is called after
 * a refusal: the client never offers a token the server refused again.
 */
export type TokenProvider = () => TokenResult | Promise<TokenResult>;

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
export async function callProvider(p: TokenProvider): Promise<Token | undefined> {
  return normalizeToken(await p());
}

/** refreshLeadMaxMs caps how long before the expiry a token is refreshed. */
export const refreshLeadMaxMs = 30_000;

/**
 * refreshAt returns when (epoch ms) to refresh a token obtained at
 * obtainedAt that expires at expiresAt: min(30 s, 10 % of the lifetime)
 * before the expiry.
 */
export function refreshAt(obtainedAt: number, expiresAt: number): number {
  const lifetime = Math.max(0, expiresAt - obtainedAt);
  return expiresAt - Math.min(refreshLeadMaxMs, lifetime * 0.1);
}

/** headerAuthorization is the header the interceptor sets. */
export const headerAuthorization = "Authorization";

/**
 * createAuthInterceptor returns a connect-es interceptor that sets
 * `Authorization: Bearer <token>` from getToken on every call (no header
 * when it has no token), and, when a unary call fails with
 * Unauthenticated, asks getToken again and retries the call once with the
 * new token (same request, so the same Idempotency-Key). It does not retry
 * when the provider returns the token that was just refused. A provider
 * that throws fails the call with its error (code Unauthenticated).
 *
 *     const transport = createConnectTransport({ baseUrl, interceptors: [createAuthInterceptor(getToken)] });
 */
export function createAuthInterceptor(getToken: TokenProvider): Interceptor {
  async function token(): Promise<string | undefined> {
    try {
      return (await callProvider(getToken))?.token;
    } catch (err) {
      throw ConnectError.from(err, Code.Unauthenticated);
    }
  }
  return (next) => async (req) => {
    const first = await token();
    if (first !== undefined) req.header.set(headerAuthorization, `Bearer ${first}`);
    try {
      return await next(req);
    } catch (err) {
      if (req.stream || !(err instanceof ConnectError) || err.code !== Code.Unauthenticated) throw err;
      if (req.signal.aborted) throw err;
      const fresh = await token();
      if (fresh === first) throw err;
      if (fresh === undefined) req.header.delete(headerAuthorization);
      else req.header.set(headerAuthorization, `Bearer ${fresh}`);
      return await next(req);
    }
  };
}
