/**
 * The dispatcher: how the client calls its subscribers back when it is not
 * answering a frame (Go: ssotws/client/dispatcher.go). A callback posted
 * here runs after the caller's stack has unwound, in the order callbacks
 * were posted, each on its own (a callback that throws does not stop the
 * caller or the callbacks after it); so a subscriber may call back into
 * the client from it. Where Go runs them on a goroutine of the
 * connection, TypeScript queues them as microtasks of the event loop.
 */

/** post queues fn to run once the current task's stack has unwound. */
export function post(fn: () => void): void {
  queueMicrotask(fn);
}
