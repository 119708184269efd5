/**
 * The client options: what the HTTP, WebSocket and hybrid clients are
 * tuned with (Go: `Options` in ssotws/client/options.go). The retries of
 * mutations and the request ids belong to the HTTP client; the hydration
 * limit and the backoff of hydration fetches to the channels; the
 * WebSocket and hybrid clients take both. The connection's options are in
 * conn_options.ts.
 */
import type { BackoffOptions } from "./backoff.js";
import type { Validation } from "./validation.js";

/** RetryOptions configure the retry of mutations. */
export interface RetryOptions {
  /** attempts counts the first try; 3 by default. */
  readonly attempts?: number;
  /** delayMs is the wait before the first retry, doubled each time; 100 by default. */
  readonly delayMs?: number;
}

/** HttpClientOptions configure {@link createHttpClient}. */
export interface HttpClientOptions {
  readonly retry?: RetryOptions;
  /** newRequestId makes Idempotency-Keys; {@link newRequestId} by default. */
  readonly newRequestId?: () => string;
  /**
   * validation checks a record's buf.validate rules before a create or
   * update is sent, and turns the server's violations into a
   * ValidationError: `protovalidate()` of "@ssot-ws/runtime/validate".
   * Without it, writes are sent unchecked and refusals stay ConnectErrors.
   */
  readonly validation?: Validation | undefined;
}

/** ChannelOptions configure the channels' hydration. */
export interface ChannelOptions {
  /** hydrationLimit bounds the records fetched to hydrate a list channel; 1000 by default. */
  readonly hydrationLimit?: number;
  /** backoff paces retries of a failed hydration fetch. */
  readonly backoff?: BackoffOptions;
}

/** ClientOptions are every client option (Go: `client.Options`). */
export type ClientOptions = HttpClientOptions & ChannelOptions;

/** Resolved are the options with their defaults filled in. */
export interface Resolved {
  readonly attempts: number;
  readonly delayMs: number;
  readonly hydrationLimit: number;
}

/** resolveOptions fills in the defaults (Go: newOptions). */
export function resolveOptions(o: ClientOptions = {}): Resolved {
  return {
    attempts: Math.max(1, o.retry?.attempts ?? 3),
    delayMs: o.retry?.delayMs ?? 100,
    hydrationLimit: o.hydrationLimit ?? 1000,
  };
}
