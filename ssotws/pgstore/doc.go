// Package pgstore is an [ssotws.Store] kept in PostgreSQL, through
// github.com/jackc/pgx/v5: the store for a service that runs on several
// nodes, which all share one database.
//
// Open a store with [OpenTables] and the models it serves, start its
// change-log relay, and hand both to the generated services in place of
// [ssotws.NewMemoryStore]:
//
//	store, err := pgstore.OpenTables(ctx, "postgres://app@db/chat",
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
// are kept), listing in creation order with opaque page tokens, equality
// filters on fields, atomic conditional writes, idempotent writes by
// request id (the remembered results survive a restart and are shared by
// the nodes) and per-model sequences. It passes the conformance suite of
// [github.com/ssot-codegen/ssot-ws/ssotws/storetest] (RunTables).
//
// # Several nodes
//
// Every [TableStore.Apply] is one READ COMMITTED transaction that locks
// the record's row (SELECT … FOR UPDATE) before it checks the version, so
// a conditional write from one node never overwrites a write from another
// that it did not see. A write with a request id first claims the id with
// an insert into the requests table: the same request sent to two nodes at
// once makes the second wait for the first and then return its result,
// instead of applying it again. A transaction that loses a race (a
// serialization failure, a deadlock, two creates of a new key) is rolled
// back and tried again, up to [Options.MaxAttempts] times.
//
// # Layout
//
// Each model is a table of its own in [Options.Schema], a column per
// top-level field (package sqlschema), whose triggers write every change,
// by any writer, to a change log that one [Relay] of the schema at a time
// publishes. A schema of the single-table layout that Open created in
// earlier versions is copied into the tables once with
// [CopyFromSingleTable].
package pgstore
