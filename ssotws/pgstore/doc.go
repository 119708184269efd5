// Package pgstore is an [ssotws.Store] kept in PostgreSQL, through
// github.com/jackc/pgx/v5: the store for a service that runs on several
// nodes, which all share one database.
//
// Open a store with [Open] (or [New] on a pool of your own) and hand it to
// the generated services in place of [ssotws.NewMemoryStore]:
//
//	store, err := pgstore.Open(ctx, "postgres://app@db/chat", nil)
//	if err != nil {
//		return err
//	}
//	defer store.Close()
//	svc := chatv1ssotws.NewChatService(store, broker, nil)
//
// The store behaves as [ssotws.MemoryStore] does, and persists it: records
// with versions that go on growing across delete and re-create (tombstones
// are kept), listing in creation order with opaque page tokens, equality
// filters on fields, atomic conditional writes, idempotent writes by
// request id (the remembered results survive a restart and are shared by
// the nodes) and per-model sequences. It passes the same conformance suite,
// [github.com/ssot-codegen/ssot-ws/ssotws/storetest].
//
// # Several nodes
//
// Every [Store.Apply] is one READ COMMITTED transaction that locks the
// record's row (SELECT … FOR UPDATE) before it checks the version, so a
// conditional write from one node never overwrites a write from another
// that it did not see. A write with a request id first claims the id with
// an insert into the requests table: the same request sent to two nodes at
// once makes the second wait for the first and then return its result,
// instead of applying it again. A transaction that loses a race (a
// serialization failure, a deadlock, two creates of a new key) is rolled
// back and tried again, up to [Options.MaxAttempts] times.
//
// A create takes its place in the creation order from a per-model counter
// row, locked to the commit: creation order is commit order, so a reader
// paging through a model never steps over a record that commits later with
// a smaller number. The cost is that creates of one model are serialized
// for the few milliseconds of their commit; creates of different models,
// updates and deletes are not.
//
// Each try is two round trips to the server: the first begins the
// transaction, claims the request id and locks the row; the second writes,
// remembers the result and commits.
//
// # Layout
//
// The tables live in [Options.Schema] (the connection's current schema by
// default) under names that begin with ssotws_. Keys, field values and
// request ids are client data and may hold any byte, NUL included, which
// PostgreSQL's text cannot: they are bytea. A record's fields are kept on
// its row as two arrays (names and values) to return them, and each
// non-empty value is also a row of ssotws_record_fields, indexed by
// (model, field, hash of value, record), so that a List with an equality
// filter walks the index in creation order and stops at the page's end
// instead of reading every match (a GIN index on JSONB finds the matches
// but not in order). Unique lookups of keys and request ids go through
// their SHA-256, so that keys of any length can be stored.
//
// The schema is created on first open and its version kept in the
// ssotws_schema_version table; a newer version is refused, an older one is
// migrated. Nodes opening the same database at once serialize on an
// advisory lock.
package pgstore
