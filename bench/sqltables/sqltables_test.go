// Package sqltables benchmarks the SQL stores' tables: a List by a scope
// field over 1,000,000 rows, mutation throughput, and the time from a
// commit to a subscriber through the relay at 1,000 writes/s on
// PostgreSQL. Figures and commands are in bench/README.md.
//
// PostgreSQL is $SSOTWS_POSTGRES_URL, or else a throwaway cluster
// started from the installed binaries (internal/pgtest) when the first
// PostgreSQL benchmark runs.
package sqltables

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1/chatv1ssotws"
	"github.com/ssot-codegen/ssot-ws/internal/pgtest"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/pgstore"
	"github.com/ssot-codegen/ssot-ws/ssotws/sqlitestore"
	"github.com/ssot-codegen/ssot-ws/ssotws/sqlschema"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
)

var models = []*ssotws.Model{chatv1ssotws.RoomModel, chatv1ssotws.MessageModel}

var (
	pgOnce    sync.Once
	pgURL     string
	pgErr     error
	pgCluster *pgtest.Cluster
	schemaSeq atomic.Int64
)

func TestMain(m *testing.M) {
	code := m.Run()
	if pgCluster != nil {
		pgCluster.Stop()
	}
	os.Exit(code)
}

// engine opens a store of the chat models on a fresh database.
type engine struct {
	name    string
	open    func(b *testing.B) (ssotws.Store, func(pub ssotws.Publisher) ssotws.ChangeRelay, sqlFunc)
	dialect sqlschema.Dialect
}

var engines = []engine{
	{"sqlite", openSQLite, sqlschema.SQLite},
	{"postgres", openPostgres, sqlschema.Postgres},
}

// openSQLite opens a store on a new file; exec runs SQL on its own
// connection (a writer that is not the store).
func openSQLite(b *testing.B) (ssotws.Store, func(ssotws.Publisher) ssotws.ChangeRelay, sqlFunc) {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "bench.db")
	s, err := sqlitestore.OpenTables(ctx, path, models, nil)
	require.NoError(b, err)
	b.Cleanup(func() { s.Close() })
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	require.NoError(b, err)
	b.Cleanup(func() { db.Close() })
	start := relayStarter(b, func(pub ssotws.Publisher) (*sqlitestore.Relay, error) { return s.StartRelay(ctx, pub, nil) })
	return s, start, func(q string, args ...any) []string {
		rows, err := db.QueryContext(ctx, q, args...)
		require.NoError(b, err)
		defer rows.Close()
		cols, err := rows.Columns()
		require.NoError(b, err)
		var out []string
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(b, rows.Scan(ptrs...))
			out = append(out, strings.TrimSpace(fmt.Sprintln(vals...)))
		}
		require.NoError(b, rows.Err())
		return out
	}
}

func openPostgres(b *testing.B) (ssotws.Store, func(ssotws.Publisher) ssotws.ChangeRelay, sqlFunc) {
	ctx := context.Background()
	pgOnce.Do(func() {
		if pgURL = os.Getenv("SSOTWS_POSTGRES_URL"); pgURL != "" {
			return
		}
		pgCluster, pgErr = pgtest.Start()
		if pgErr == nil {
			pgURL = pgCluster.URL
		}
	})
	require.NoError(b, pgErr)
	schema := fmt.Sprintf("ssotws_bench_%d_%d", os.Getpid(), schemaSeq.Add(1))
	s, err := pgstore.OpenTables(ctx, pgURL, models, &pgstore.Options{Schema: schema})
	require.NoError(b, err)
	b.Cleanup(func() {
		s.Close()
		conn, err := pgx.Connect(context.Background(), pgURL)
		if err == nil {
			_, _ = conn.Exec(context.Background(), "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
			conn.Close(context.Background())
		}
	})
	conn, err := pgx.Connect(ctx, pgURL)
	require.NoError(b, err)
	b.Cleanup(func() { conn.Close(context.Background()) })
	_, err = conn.Exec(ctx, "SET search_path = "+pgx.Identifier{schema}.Sanitize())
	require.NoError(b, err)
	start := relayStarter(b, func(pub ssotws.Publisher) (*pgstore.Relay, error) { return s.StartRelay(ctx, pub, nil) })
	return s, start, func(q string, args ...any) []string {
		rows, err := conn.Query(ctx, q, args...)
		require.NoError(b, err)
		defer rows.Close()
		var out []string
		for rows.Next() {
			vals, err := rows.Values()
			require.NoError(b, err)
			out = append(out, strings.TrimSpace(fmt.Sprintln(vals...)))
		}
		require.NoError(b, rows.Err())
		return out
	}
}

// sqlFunc runs a statement with the plain driver, on a connection of its
// own, and returns its rows, each row's columns separated by spaces.
type sqlFunc func(q string, args ...any) []string

// relayStarter starts a store's relay (start) publishing to a publisher,
// stopped when the benchmark ends.
func relayStarter[R interface {
	ssotws.ChangeRelay
	Close() error
}](b *testing.B, start func(ssotws.Publisher) (R, error)) func(ssotws.Publisher) ssotws.ChangeRelay {
	return func(pub ssotws.Publisher) ssotws.ChangeRelay {
		r, err := start(pub)
		require.NoError(b, err)
		b.Cleanup(func() { r.Close() })
		return r
	}
}

// reportQuantiles reports the p50 and p99 of d in milliseconds.
func reportQuantiles(b *testing.B, d []time.Duration, unit string) {
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	q := func(p float64) float64 { return float64(d[min(len(d)-1, int(p*float64(len(d))))]) / 1e6 }
	b.ReportMetric(q(0.50), "p50-ms"+unit)
	b.ReportMetric(q(0.99), "p99-ms"+unit)
}

// BenchmarkListByScope1M: 1,000,000 messages over 1,000 rooms, loaded with
// plain SQL (the triggers number them); each iteration is the List of a
// first page of 50 of one room, as the generated handler asks the store.
func BenchmarkListByScope1M(b *testing.B) {
	const rows, rooms, chunk = 1_000_000, 1_000, 100_000
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			ctx := context.Background()
			store, _, exec := e.open(b)
			for from := 1; from <= rows; from += chunk {
				to := from + chunk - 1
				series := fmt.Sprintf("generate_series(%d, %d) AS g(i)", from, to)
				if e.name == "sqlite" {
					series = fmt.Sprintf("(WITH RECURSIVE n(i) AS (SELECT %d UNION ALL SELECT i + 1 FROM n WHERE i < %d) SELECT i FROM n) AS g", from, to)
				}
				exec(fmt.Sprintf(`INSERT INTO messages (id, room_id, author, text) SELECT 'm' || i, 'r' || (i %% %d), 'ann', 'hello' FROM %s`, rooms, series))
			}
			exec("ANALYZE")
			// The plan of the store's List walks the room_id index.
			tbl, err := sqlschema.NewTable(chatv1ssotws.MessageModel, e.dialect)
			require.NoError(b, err)
			q, args, _ := tbl.ListQuery([]ssotws.Filter{{Field: "room_id", Value: "r7"}}, 0, 51)
			explain := "EXPLAIN QUERY PLAN "
			if e.dialect == sqlschema.Postgres {
				explain = "EXPLAIN "
			}
			plan := strings.Join(exec(explain+q, args...), "\n")
			b.Logf("plan of %s:\n%s", q, plan)
			require.Contains(b, plan, "messages_room_id_idx", "the List walks the scope index")
			require.NotContains(b, plan, "Seq Scan", "no sequential scan")
			require.NotContains(b, plan, " SCAN ", "no scan of the table")
			var lat []time.Duration
			i := 0
			b.ResetTimer()
			for b.Loop() {
				room := "r" + strconv.Itoa(i*7919%rooms)
				i++
				t0 := time.Now()
				p, err := store.List(ctx, ssotws.Query{Model: "chat.v1.Message", PageSize: 50, Filters: []ssotws.Filter{{Field: "room_id", Value: room}}})
				lat = append(lat, time.Since(t0))
				if err != nil || len(p.Records) != 50 {
					b.Fatal(len(p.Records), err)
				}
			}
			reportQuantiles(b, lat, "")
		})
	}
}

// BenchmarkCreateMessage: Create through the generated chat service's
// Resource (idempotency key, PlanWrite, the table's triggers and change
// log), from GOMAXPROCS goroutines, with no relay running; writes/s is the
// throughput.
func BenchmarkCreateMessage(b *testing.B) {
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			store, _, _ := e.open(b)
			svc := chatv1ssotws.NewChatService(store, ssotws.NewMemoryBroker(nil), nil)
			var n atomic.Int64
			b.SetParallelism(1) // GOMAXPROCS goroutines: 2 on the bench machine
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					h := http.Header{}
					h.Set(ssotws.HeaderIdempotencyKey, "k"+strconv.FormatInt(n.Add(1), 10))
					if _, err := svc.Messages.Create(ctx, h, &chatv1.Message{RoomId: "r1", Author: "ann", Text: "hello there"}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "writes/s")
		})
	}
}

// BenchmarkRelayLatency1000: 1,000 writes/s for 10 s (paced, from 8
// writer goroutines so that a slow commit does not slow the pace) through
// the store; the relay publishes the change log to the memory broker,
// whose listener is the subscriber. The latency of a write is from the
// moment its Apply returned (the commit is done) to its event reaching
// the subscriber; an event that arrives before Apply returned counts 0.
// Run with -benchtime 1x: one iteration is the whole 10 s.
func BenchmarkRelayLatency1000(b *testing.B) {
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			const rate, seconds, writers = 1000, 10, 8
			store, startRelay, _ := e.open(b)
			broker := ssotws.NewMemoryBroker(nil)
			b.Cleanup(func() { broker.Close() })
			var (
				mu        sync.Mutex
				committed = map[string]time.Time{}
				received  = map[string]time.Time{}
				lat       []time.Duration
			)
			stop := broker.Listen(func(events []*wsv1.Event) {
				now := time.Now()
				mu.Lock()
				defer mu.Unlock()
				for _, ev := range events {
					if ev.GetChannel() != "Message" {
						continue
					}
					if c, ok := committed[ev.GetKey()]; ok {
						lat = append(lat, max(0, now.Sub(c)))
						delete(committed, ev.GetKey())
					} else {
						received[ev.GetKey()] = now
					}
				}
			})
			b.Cleanup(stop)
			startRelay(broker)
			for b.Loop() {
				lat = lat[:0]
				jobs := make(chan string)
				var wg sync.WaitGroup
				for range writers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						ctx := context.Background()
						for key := range jobs {
							msg, _ := proto.Marshal(&chatv1.Message{Id: key, RoomId: "r1", Author: "ann", Text: "hello there"})
							if _, err := store.Apply(ctx, &ssotws.Write{Kind: ssotws.WriteCreate, Model: "chat.v1.Message", Key: key, Data: msg}); err != nil {
								b.Error(err)
								return
							}
							now := time.Now()
							mu.Lock()
							if _, ok := received[key]; ok {
								lat = append(lat, 0)
								delete(received, key)
							} else {
								committed[key] = now
							}
							mu.Unlock()
						}
					}()
				}
				begin := time.Now()
				for i := range rate * seconds {
					time.Sleep(time.Until(begin.Add(time.Duration(i) * time.Second / rate)))
					jobs <- "w" + strconv.Itoa(b.N) + "-" + strconv.Itoa(i)
				}
				close(jobs)
				wg.Wait()
				b.ReportMetric(float64(rate*seconds)/time.Since(begin).Seconds(), "writes/s")
				require.Eventually(b, func() bool {
					mu.Lock()
					defer mu.Unlock()
					return len(lat) == rate*seconds
				}, 30*time.Second, 10*time.Millisecond, "every write reached the subscriber")
				mu.Lock()
				require.Len(b, lat, rate*seconds, "every write reached the subscriber")
				reportQuantiles(b, slices.Clone(lat), "")
				mu.Unlock()
			}
		})
	}
}
