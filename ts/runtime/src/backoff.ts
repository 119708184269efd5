// The schedule of reconnects and retries (Go: ssotws/client/backoff.go).

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
