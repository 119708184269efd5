// The observable state of the shared connection (Go: ssotws/client/state.go).

/**
 * ConnectionState is the observable state of the shared connection
 * (the same names as the Go client's State.String()).
 * - "connecting" / "reconnecting": dialling, or waiting to; a socket that
 *   opened counts as "open" only once the server answered on it (the Pong
 *   of the Ping sent first), i.e. accepted its token.
 * - "closed": after close().
 * - "unauthenticated": signed out. The server refused the token (4401) and
 *   then the fresh one too, before accepting any; or a refused static token
 *   has no successor. Nothing is dialled until reconnect(), connect() or
 *   setToken() (e.g. after a new sign-in).
 * - "forbidden": the server refused a refreshed token of another user on
 *   the connection (4403). Nothing is dialled; close() it and use a new
 *   connection for the new user (reconnect() would resume the old caches).
 */
export type ConnectionState =
  | "idle"
  | "connecting"
  | "open"
  | "reconnecting"
  | "closed"
  | "unauthenticated"
  | "forbidden"
  | "unavailable";
