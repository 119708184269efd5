package golden_test

import (
	"context"
	"slices"
	"testing"

	"connectrpc.com/connect"
	libraryv1 "github.com/ssot-codegen/ssot-ws/internal/golden/library/v1"
	"github.com/ssot-codegen/ssot-ws/internal/golden/library/v1/libraryv1connect"
	"github.com/ssot-codegen/ssot-ws/internal/golden/library/v1/libraryv1ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"google.golang.org/protobuf/proto"
)

// identify is a stand-in authenticator: the caller is whoever the X-User
// header names.
var identify = connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if user := req.Header().Get("X-User"); user != "" {
			ctx = ssotws.WithIdentity(ctx, &ssotws.Identity{Subject: user})
		}
		return next(ctx, req)
	}
})

func as[T any](user string, msg *T) *connect.Request[T] {
	req := connect.NewRequest(msg)
	req.Header().Set("X-User", user)
	return req
}

func TestLibrary(t *testing.T) {
	ctx := context.Background()
	store, rec := ssotws.NewMemoryStore(), &recorder{}
	svc := libraryv1ssotws.NewLibraryService(store, rec, nil)
	srv := serve(t)(libraryv1connect.NewLibraryServiceHandler(svc, connect.WithInterceptors(identify)))
	client := libraryv1connect.NewLibraryServiceClient(srv.Client(), srv.URL)

	// Shelves: wrapper responses, the name key taken from shelf_id, and
	// HTTP only: nothing is published.
	shelf, err := client.CreateShelf(ctx, connect.NewRequest(&libraryv1.CreateShelfRequest{
		Shelf: &libraryv1.Shelf{Theme: "poetry"}, ShelfId: "shelves/poetry",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if shelf.Msg.GetShelf().GetName() != "shelves/poetry" {
		t.Fatalf("created %v", shelf.Msg)
	}
	got, err := client.GetShelf(ctx, connect.NewRequest(&libraryv1.GetShelfRequest{Name: "shelves/poetry"}))
	if err != nil || got.Msg.GetShelf().GetTheme() != "poetry" {
		t.Fatalf("get shelf: %v, %v", got, err)
	}
	shelves, err := client.ListShelves(ctx, connect.NewRequest(&libraryv1.ListShelvesRequest{}))
	if err != nil || len(shelves.Msg.GetShelves()) != 1 {
		t.Fatalf("list shelves: %v, %v", shelves, err)
	}
	wantEvents(t, rec)

	// Books: realtime, owned, scoped by shelf.
	_, err = client.CreateBook(ctx, connect.NewRequest(&libraryv1.CreateBookRequest{Book: &libraryv1.Book{Name: "b"}}))
	wantCode(t, err, connect.CodeUnauthenticated, "")
	created, err := client.CreateBook(ctx, as("alice", &libraryv1.CreateBookRequest{Book: &libraryv1.Book{
		Name: "shelves/poetry/books/odes", Shelf: "shelves/poetry", Title: "Odes", Owner: "mallory",
	}}))
	if err != nil {
		t.Fatal(err)
	}
	book := created.Msg.GetBook()
	if book.GetOwner() != "alice" || book.GetVersion() != 1 {
		t.Fatalf("created %v: the owner is the creator", book)
	}
	wantEvents(t, rec,
		"CREATED Book shelves/poetry/books/odes 1 ",
		"CREATED Book/shelves%2Fpoetry%2Fbooks%2Fodes shelves/poetry/books/odes 1 ",
		"CREATED Book?shelf=shelves%2Fpoetry shelves/poetry/books/odes 1 ",
	)
	if _, err := client.CreateBook(ctx, as("alice", &libraryv1.CreateBookRequest{Book: &libraryv1.Book{
		Name: "shelves/poetry/books/iliad", Shelf: "shelves/poetry", Title: "Iliad",
	}})); err != nil {
		t.Fatal(err)
	}
	rec.take()

	_, err = client.UpdateBook(ctx, as("bob", &libraryv1.UpdateBookRequest{
		Book: &libraryv1.Book{Name: book.GetName(), Read: true}, UpdateMask: mask("read"),
	}))
	wantCode(t, err, connect.CodePermissionDenied, "")
	updated, err := client.UpdateBook(ctx, as("alice", &libraryv1.UpdateBookRequest{
		Book: &libraryv1.Book{Name: book.GetName(), Read: true}, UpdateMask: mask("read"),
	}))
	if err != nil || !updated.Msg.GetBook().GetRead() || updated.Msg.GetBook().GetTitle() != "Odes" {
		t.Fatalf("update: %v, %v", updated, err)
	}
	rec.take()

	// The optional read filter: unset lists all, false lists the unread.
	for _, tc := range []struct {
		read *bool
		want []string
	}{
		{nil, []string{"Odes", "Iliad"}},
		{proto.Bool(true), []string{"Odes"}},
		{proto.Bool(false), []string{"Iliad"}},
	} {
		res, err := client.ListBooks(ctx, connect.NewRequest(&libraryv1.ListBooksRequest{Shelf: "shelves/poetry", Read: tc.read}))
		if err != nil {
			t.Fatal(err)
		}
		var titles []string
		for _, b := range res.Msg.GetBooks() {
			titles = append(titles, b.GetTitle())
		}
		if !slices.Equal(titles, tc.want) {
			t.Errorf("read=%v: %v, want %v", tc.read, titles, tc.want)
		}
	}
	other, err := client.ListBooks(ctx, connect.NewRequest(&libraryv1.ListBooksRequest{Shelf: "shelves/prose"}))
	if err != nil || len(other.Msg.GetBooks()) != 0 {
		t.Fatalf("other shelf: %v, %v", other, err)
	}

	// RemoveBook is bound to Delete by its method option; it returns the
	// deleted book in its wrapper.
	_, err = client.RemoveBook(ctx, as("alice", &libraryv1.RemoveBookRequest{Name: book.GetName(), Version: 1}))
	wantCode(t, err, connect.CodeAborted, "")
	removed, err := client.RemoveBook(ctx, as("alice", &libraryv1.RemoveBookRequest{Name: book.GetName(), Version: 2}))
	if err != nil || removed.Msg.GetBook().GetTitle() != "Odes" {
		t.Fatalf("remove: %v, %v", removed, err)
	}
	wantEvents(t, rec,
		"DELETED Book shelves/poetry/books/odes 3 ",
		"DELETED Book/shelves%2Fpoetry%2Fbooks%2Fodes shelves/poetry/books/odes 3 ",
		"DELETED Book?shelf=shelves%2Fpoetry shelves/poetry/books/odes 3 ",
	)

	// MoveBook is not standard: left to the user.
	_, err = client.MoveBook(ctx, connect.NewRequest(&libraryv1.MoveBookRequest{}))
	wantCode(t, err, connect.CodeUnimplemented, "")

	if _, err := client.DeleteShelf(ctx, connect.NewRequest(&libraryv1.DeleteShelfRequest{Name: "shelves/poetry"})); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, rec)
}
