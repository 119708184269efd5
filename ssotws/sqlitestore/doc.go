// Package sqlitestore is an [ssotws.Store] kept in one SQLite file, through
// modernc.org/sqlite (pure Go, no cgo): the embedded persistent default of
// ssot-ws.
//
// Open a store with [Open] and hand it to the generated services in place of
// [ssotws.NewMemoryStore]:
//
//	store, err := sqlitestore.Open(ctx, "data/chat.db", nil)
//	if err != nil {
//		return err
//	}
//	defer store.Close()
//	svc := chatv1ssotws.NewChatService(store, ssotws.NewMemoryBroker(nil), nil)
//
// The store behaves as [ssotws.MemoryStore] does, and persists it: records
// with versions that go on growing across delete and re-create (tombstones
// are kept), listing in creation order with opaque page tokens, atomic
// conditional writes, idempotent writes by request id (the remembered
// results survive a restart) and per-model sequences.
//
// # Layout
//
// The database runs in WAL mode. Writes go through a pool of exactly one
// connection, and every [Store.Apply] is one BEGIN IMMEDIATE transaction on
// it, so writers of this process queue in Go instead of failing with
// SQLITE_BUSY; the busy timeout covers other processes that open the same
// file. Reads use a separate pool of read-only connections, which WAL lets
// run beside the writer.
//
// Records are one table; the text form of their fields is kept as a JSON
// object beside the data, and each non-empty field value is also a row of a
// side table indexed by (model, field, value, record), so that a List with
// an equality filter walks the index in creation order instead of decoding
// every record of the model. A filter on the empty value matches a record
// whose field is empty or missing, as [ssotws.Match] does.
//
// The schema is created on first open and its version kept in SQLite's
// user_version; a file written by a newer schema is refused.
package sqlitestore
