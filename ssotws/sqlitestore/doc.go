// Package sqlitestore is an [ssotws.Store] kept in one SQLite file, through
// modernc.org/sqlite (pure Go, no cgo): the embedded persistent default of
// ssot-ws.
//
// Open a store with [OpenTables] and the models it serves, start its
// change-log relay, and hand both to the generated services in place of
// [ssotws.NewMemoryStore]:
//
//	store, err := sqlitestore.OpenTables(ctx, "data/chat.db",
//		[]*ssotws.Model{chatv1ssotws.RoomModel, chatv1ssotws.MessageModel}, nil)
//	if err != nil {
//		return err
//	}
//	defer store.Close()
//	relay, err := store.StartRelay(ctx, broker, nil)
//	if err != nil {
//		return err
//	}
//	defer relay.Close()
//	svc := chatv1ssotws.NewChatService(store, ssotws.RelayedPublisher(relay, broker), nil)
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
// connection, and every [TableStore.Apply] is one BEGIN IMMEDIATE
// transaction on it, so writers of this process queue in Go instead of
// failing with SQLITE_BUSY; the busy timeout covers other processes that
// open the same file. Reads use a separate pool of read-only connections,
// which WAL lets run beside the writer.
//
// Each model is a table of its own, a column per top-level field (package
// sqlschema), whose triggers write every change, by any writer, to a
// change log that a [Relay] publishes. A database of the single-table
// layout that Open created in earlier versions is copied into the tables
// once with [CopyFromSingleTable].
package sqlitestore
