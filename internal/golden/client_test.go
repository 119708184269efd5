package golden_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"connectrpc.com/connect"
	intkeyv1 "github.com/ssot-codegen/ssot-ws/internal/golden/intkey/v1"
	"github.com/ssot-codegen/ssot-ws/internal/golden/intkey/v1/intkeyv1connect"
	"github.com/ssot-codegen/ssot-ws/internal/golden/intkey/v1/intkeyv1ssotws"
	libraryv1 "github.com/ssot-codegen/ssot-ws/internal/golden/library/v1"
	"github.com/ssot-codegen/ssot-ws/internal/golden/library/v1/libraryv1connect"
	"github.com/ssot-codegen/ssot-ws/internal/golden/library/v1/libraryv1ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/client"
)

// asUser makes every request of an HTTP client carry X-User, which the
// identify interceptor turns into the caller's identity.
type asUser struct {
	user string
	next http.RoundTripper
}

func (a asUser) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-User", a.user)
	return a.next.RoundTrip(r)
}

// TestGeneratedClientLibrary drives the generated client constructors of
// the library case against its generated server over loopback HTTP:
// wrapper responses, resource-name keys, an HTTP-only model whose service
// lacks Update, and a realtime model without a connection (HTTP routing).
func TestGeneratedClientLibrary(t *testing.T) {
	ctx := context.Background()
	store, rec := ssotws.NewMemoryStore(), &recorder{}
	srv := serve(t)(libraryv1connect.NewLibraryServiceHandler(libraryv1ssotws.NewLibraryService(store, rec, nil), connect.WithInterceptors(identify)))
	hc := srv.Client()
	hc.Transport = asUser{"alice", hc.Transport}
	api := libraryv1connect.NewLibraryServiceClient(hc, srv.URL)

	// Shelf is HTTP only: its client is built as a realtime model's is,
	// and goes over HTTP.
	var shelves client.DataClient[*libraryv1.Shelf] = libraryv1ssotws.NewShelfClient(api, nil, nil)
	shelf, err := shelves.Create(ctx, &libraryv1.Shelf{Name: "shelves/poetry", Theme: "poetry"})
	if err != nil || shelf.GetName() != "shelves/poetry" || shelf.GetTheme() != "poetry" {
		t.Fatalf("create shelf: %v, %v", shelf, err)
	}
	got, err := shelves.Get(ctx, "shelves/poetry")
	if err != nil || got.GetTheme() != "poetry" {
		t.Fatalf("get shelf: %v, %v", got, err)
	}
	if _, err := shelves.Get(ctx, "shelves/none"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("get a missing shelf: %v, want ErrNotFound", err)
	}
	page, err := shelves.List(ctx, client.ListParams{PageSize: 10})
	if err != nil || len(page.Items) != 1 || page.NextPageToken != "" {
		t.Fatalf("list shelves: %v, %v", page, err)
	}
	if _, err := libraryv1ssotws.NewShelfHTTP(api).Update(ctx, shelf, nil, nil); !errors.Is(err, client.ErrNoMethod) {
		t.Fatalf("ShelfHTTP's Update: %v, want ErrNoMethod, as LibraryService has no UpdateShelf", err)
	}
	wantEvents(t, rec)

	// Book is realtime; without a connection everything goes over HTTP.
	books := libraryv1ssotws.NewBookClient(api, nil, nil)
	if s := books.State(); s != client.StateUnavailable {
		t.Fatalf("state without a connection: %v", s)
	}
	for _, b := range []*libraryv1.Book{
		{Name: "shelves/poetry/books/odes", Shelf: "shelves/poetry", Title: "Odes"},
		{Name: "shelves/poetry/books/iliad", Shelf: "shelves/poetry", Title: "Iliad", Read: true},
		{Name: "shelves/prose/books/emma", Shelf: "shelves/prose", Title: "Emma"},
	} {
		created, err := books.Create(ctx, b)
		if err != nil || created.GetOwner() != "alice" || created.GetVersion() != 1 {
			t.Fatalf("create %s: %v, %v", b.GetName(), created, err)
		}
	}
	events := rec.take()
	if len(events) != 9 {
		t.Fatalf("%d events after 3 creates, want 9: %q", len(events), events)
	}
	if events[0][len(events[0])-1] == ' ' {
		t.Fatalf("event %q carries no request id: the client sends an Idempotency-Key", events[0])
	}
	poetry, err := books.List(ctx, client.ListParams{Filters: map[string]string{"shelf": "shelves/poetry"}})
	if err != nil || len(poetry.Items) != 2 {
		t.Fatalf("list poetry: %v, %v", poetry, err)
	}
	read, err := books.List(ctx, client.ListParams{Filters: map[string]string{"read": "true"}})
	if err != nil || len(read.Items) != 1 || read.Items[0].GetTitle() != "Iliad" {
		t.Fatalf("list read books: %v, %v", read, err)
	}
	_, err = books.List(ctx, client.ListParams{Filters: map[string]string{"title": "Odes"}})
	wantCode(t, err, connect.CodeInvalidArgument, "cannot filter")

	first, err := books.List(ctx, client.ListParams{PageSize: 2})
	if err != nil || len(first.Items) != 2 || first.NextPageToken == "" {
		t.Fatalf("first page: %v, %v", first, err)
	}
	second, err := books.List(ctx, client.ListParams{PageSize: 2, PageToken: first.NextPageToken})
	if err != nil || len(second.Items) != 1 || second.NextPageToken != "" {
		t.Fatalf("second page: %v, %v", second, err)
	}

	updated, err := books.Update(ctx, &libraryv1.Book{Name: "shelves/poetry/books/odes", Title: "Odes (2nd ed.)", Version: 1}, "title")
	if err != nil || updated.GetTitle() != "Odes (2nd ed.)" || updated.GetShelf() != "shelves/poetry" || updated.GetVersion() != 2 {
		t.Fatalf("update: %v, %v", updated, err)
	}
	_, err = books.Update(ctx, &libraryv1.Book{Name: "shelves/poetry/books/odes", Title: "stale", Version: 1}, "title")
	wantCode(t, err, connect.CodeAborted, "")
	b, err := books.Get(ctx, "shelves/poetry/books/odes")
	if err != nil || b.GetTitle() != "Odes (2nd ed.)" {
		t.Fatalf("get: %v, %v", b, err)
	}
	rec.take()

	// Delete goes through RemoveBook, bound by its method option.
	if ok, err := books.Delete(ctx, "shelves/poetry/books/odes"); !ok || err != nil {
		t.Fatalf("delete: %v, %v", ok, err)
	}
	if ok, err := books.Delete(ctx, "shelves/poetry/books/odes"); ok || err != nil {
		t.Fatalf("delete again: %v, %v; want false, nil", ok, err)
	}
	if _, err := books.Get(ctx, "shelves/poetry/books/odes"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("get a deleted book: %v", err)
	}
	if events := rec.take(); len(events) != 3 {
		t.Fatalf("%d events after a delete, want 3: %q", len(events), events)
	}
}

// TestGeneratedClientIntKey drives the generated client of a model with
// an int64 key: the adapter parses text keys, and rejects bad ones.
func TestGeneratedClientIntKey(t *testing.T) {
	ctx := context.Background()
	store, rec := ssotws.NewMemoryStore(), &recorder{}
	srv := serve(t)(intkeyv1connect.NewTicketServiceHandler(intkeyv1ssotws.NewTicketService(store, rec, nil)))
	tickets := intkeyv1ssotws.NewTicketClient(intkeyv1connect.NewTicketServiceClient(srv.Client(), srv.URL), nil, nil)

	created, err := tickets.Create(ctx, &intkeyv1.Ticket{QueueId: 7, Status: intkeyv1.Status_STATUS_OPEN, Subject: "printer"})
	if err != nil || created.GetId() == 0 {
		t.Fatalf("create: %v, %v", created, err)
	}
	key := ssotws.FormatKey(created.GetId())
	got, err := tickets.Get(ctx, key)
	if err != nil || got.GetSubject() != "printer" {
		t.Fatalf("get %s: %v, %v", key, got, err)
	}
	_, err = tickets.Get(ctx, "seven")
	wantCode(t, err, connect.CodeInvalidArgument, `intkey.v1.Ticket key "seven" is not a valid int64`)
	_, err = tickets.Delete(ctx, "99999999999999999999")
	wantCode(t, err, connect.CodeInvalidArgument, "is not a valid int64")

	// Filters on an int32 and an enum field, in their text forms.
	for _, filters := range []map[string]string{{"queue_id": "7"}, {"status": "1"}} {
		page, err := tickets.List(ctx, client.ListParams{Filters: filters})
		if err != nil || len(page.Items) != 1 || page.Items[0].GetId() != created.GetId() {
			t.Fatalf("list %v: %v, %v", filters, page, err)
		}
	}
	page, err := tickets.List(ctx, client.ListParams{Filters: map[string]string{"queue_id": "8"}})
	if err != nil || len(page.Items) != 0 {
		t.Fatalf("list queue 8: %v, %v", page, err)
	}

	closed, err := tickets.Update(ctx, &intkeyv1.Ticket{Id: created.GetId(), Status: intkeyv1.Status_STATUS_CLOSED}, "status")
	if err != nil || closed.GetStatus() != intkeyv1.Status_STATUS_CLOSED || closed.GetSubject() != "printer" {
		t.Fatalf("update: %v, %v", closed, err)
	}
	if ok, err := tickets.Delete(ctx, key); !ok || err != nil {
		t.Fatalf("delete %s: %v, %v", key, ok, err)
	}
	if _, err := tickets.Get(ctx, key); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("get a deleted ticket: %v", err)
	}
	rec.take()
}
