// The schedule of reconnects and retries (Go: ssotws/client/backoff.go).

/** BackoffOptions configure reconnect delays (base 1 s, max 16 s; Go: Backoff{Base, Max}). */
export interface BackoffOptions {
  /** baseMs is the first delay; 1000 by default. */
  readonly baseMs?: number;
  /** maxMs caps the delay; 16000 by default. */
  readonly maxMs?: number;
  /** @deprecated capMs is the former name of maxMs. */
  readonly capMs?: number;
  /** random returns a number in [0, 1); Math.random by default. */
  readonly random?: () => number;
}

/**
 * backoffDelay is the wait before reconnect attempt n (0-based):
 * min(max, base·2ⁿ) scaled by a random factor in [0.5, 1], rounded to
 * whole milliseconds.
 */
export function backoffDelay(attempt: number, opts: BackoffOptions = {}): number {
  const base = opts.baseMs ?? 1000;
  const max = opts.maxMs ?? opts.capMs ?? 16000;
  const r = (opts.random ?? Math.random)();
  const d = Math.min(max, base * 2 ** Math.min(attempt, 30));
  return Math.round(d * (0.5 + 0.5 * r));
}
