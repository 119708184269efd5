package golden_test

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect"
	libraryv1 "github.com/ssot-codegen/ssot-ws/internal/golden/aip/library/v1"
	"github.com/ssot-codegen/ssot-ws/internal/golden/aip/library/v1/libraryv1connect"
	"github.com/ssot-codegen/ssot-ws/internal/golden/aip/library/v1/libraryv1ssotws"
	secretmanagerv1 "github.com/ssot-codegen/ssot-ws/internal/golden/aip/secretmanager/v1"
	"github.com/ssot-codegen/ssot-ws/internal/golden/aip/secretmanager/v1/secretmanagerv1connect"
	"github.com/ssot-codegen/ssot-ws/internal/golden/aip/secretmanager/v1/secretmanagerv1ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/client"
	"github.com/ssot-codegen/ssot-ws/ssotws/sqlitestore"
	"github.com/ssot-codegen/ssot-ws/ssotws/ssotwstest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newLibrary serves the AIP library case (one file per resource, names
// from google.api.resource patterns) on a loopback server with a gateway,
// and returns a client of it.
func newLibrary(t *testing.T) (*ssotwstest.Server, libraryv1connect.LibraryServiceClient) {
	return newLibraryOn(t, nil)
}

// newLibraryOn is newLibrary over store (nil: a memory store).
func newLibraryOn(t *testing.T, store ssotws.Store) (*ssotwstest.Server, libraryv1connect.LibraryServiceClient) {
	srv := ssotwstest.NewServer(t, &ssotwstest.Options{Store: store})
	srv.RegisterChannels(libraryv1ssotws.RegisterChannels)
	srv.Handle(libraryv1ssotws.NewLibraryServiceHandler(libraryv1ssotws.NewLibraryService(srv.Store, srv.Broker, nil), srv.HandlerOptions()...))
	return srv, libraryv1connect.NewLibraryServiceClient(srv.HTTPClient("alice"), srv.URL)
}

func bookTitles(books []*libraryv1.Book) []string {
	var out []string
	for _, b := range books {
		out = append(out, b.GetTitle())
	}
	return out
}

// TestAIPNames: Create builds names from the pattern, the parent and the
// resource id (AIP-122, AIP-133), and refuses a parent or an id that does
// not fit.
func TestAIPNames(t *testing.T) {
	srv, api := newLibrary(t)
	ctx := srv.Context(t)

	shelf, err := api.CreateShelf(ctx, connect.NewRequest(&libraryv1.CreateShelfRequest{Shelf: &libraryv1.Shelf{Theme: "sea"}}))
	require.NoError(t, err)
	assert.Regexp(t, `^shelves/[a-z0-9]+$`, shelf.Msg.GetName())

	book, err := api.CreateBook(ctx, connect.NewRequest(&libraryv1.CreateBookRequest{
		Parent: shelf.Msg.GetName(), BookId: "moby-dick", Book: &libraryv1.Book{Title: "Moby Dick"},
	}))
	require.NoError(t, err)
	assert.Equal(t, shelf.Msg.GetName()+"/books/moby-dick", book.Msg.GetName())
	got, err := api.GetBook(ctx, connect.NewRequest(&libraryv1.GetBookRequest{Name: book.Msg.GetName()}))
	require.NoError(t, err)
	assert.Equal(t, "Moby Dick", got.Msg.GetTitle())

	generated, err := api.CreateBook(ctx, connect.NewRequest(&libraryv1.CreateBookRequest{Parent: "shelves/2", Book: &libraryv1.Book{Title: "Typee"}}))
	require.NoError(t, err)
	assert.Regexp(t, `^shelves/2/books/[a-z0-9]+$`, generated.Msg.GetName())

	_, err = api.CreateBook(ctx, connect.NewRequest(&libraryv1.CreateBookRequest{Parent: "publishers/1", Book: &libraryv1.Book{Title: "Omoo"}}))
	wantCode(t, err, connect.CodeInvalidArgument, `parent "publishers/1" does not match "shelves/{shelf}"`)
	_, err = api.CreateBook(ctx, connect.NewRequest(&libraryv1.CreateBookRequest{Parent: "", Book: &libraryv1.Book{Title: "Omoo"}}))
	wantCode(t, err, connect.CodeInvalidArgument, `parent "" does not match`)
	_, err = api.CreateBook(ctx, connect.NewRequest(&libraryv1.CreateBookRequest{Parent: "shelves/2", BookId: "Moby Dick", Book: &libraryv1.Book{}}))
	wantCode(t, err, connect.CodeInvalidArgument, "book_id")
	_, err = api.CreateBook(ctx, connect.NewRequest(&libraryv1.CreateBookRequest{Parent: "shelves/2", BookId: "a/b", Book: &libraryv1.Book{}}))
	wantCode(t, err, connect.CodeInvalidArgument, "book_id")
	_, err = api.CreateBook(ctx, connect.NewRequest(&libraryv1.CreateBookRequest{
		Parent: shelf.Msg.GetName(), BookId: "moby-dick", Book: &libraryv1.Book{Title: "again"},
	}))
	wantCode(t, err, connect.CodeAlreadyExists, "")
}

// TestAIPSecretID: Secret Manager's secret_id is the last segment of the
// name, so a later Get of the full name finds the secret.
func TestAIPSecretID(t *testing.T) {
	srv := ssotwstest.NewServer(t, nil)
	srv.RegisterChannels(secretmanagerv1ssotws.RegisterChannels)
	srv.Handle(secretmanagerv1ssotws.NewSecretManagerServiceHandler(secretmanagerv1ssotws.NewSecretManagerService(srv.Store, srv.Broker, nil), srv.HandlerOptions()...))
	api := secretmanagerv1connect.NewSecretManagerServiceClient(srv.HTTPClient("alice"), srv.URL)
	ctx := srv.Context(t)

	created, err := api.CreateSecret(ctx, connect.NewRequest(&secretmanagerv1.CreateSecretRequest{
		Parent: "projects/p1", SecretId: "db-password", Secret: &secretmanagerv1.Secret{Labels: map[string]string{"env": "prod"}},
	}))
	require.NoError(t, err)
	assert.Equal(t, "projects/p1/secrets/db-password", created.Msg.GetName())
	got, err := api.GetSecret(ctx, connect.NewRequest(&secretmanagerv1.GetSecretRequest{Name: "projects/p1/secrets/db-password"}))
	require.NoError(t, err)
	assert.Equal(t, "prod", got.Msg.GetLabels()["env"])

	_, err = api.CreateSecret(ctx, connect.NewRequest(&secretmanagerv1.CreateSecretRequest{Parent: "projects/p2", SecretId: "db-password", Secret: &secretmanagerv1.Secret{}}))
	require.NoError(t, err)
	page, err := api.ListSecrets(ctx, connect.NewRequest(&secretmanagerv1.ListSecretsRequest{Parent: "projects/p1"}))
	require.NoError(t, err)
	require.Len(t, page.Msg.GetSecrets(), 1)
	assert.Equal(t, "projects/p1/secrets/db-password", page.Msg.GetSecrets()[0].GetName())
}

// TestAIPParent: parent scopes List, and is a channel of its own whose
// subscribers, over a real WebSocket, receive only its children's events.
// A request field that only shares a model field's name (markup_syntax)
// does not filter; one marked (ssot.ws.v1.field).filter (author) does.
func TestAIPParent(t *testing.T) {
	t.Run("memory", func(t *testing.T) { testAIPParent(t, nil) })
	// The parent has no column: the store filters on a range of the
	// primary key (sqlschema's parentFilter).
	t.Run("sqlite", func(t *testing.T) { testAIPParent(t, librarySQLite(t)) })
}

// librarySQLite is a SQLite store of the library's tables in a temporary
// file.
func librarySQLite(t *testing.T) ssotws.Store {
	store, err := sqlitestore.OpenTables(context.Background(), filepath.Join(t.TempDir(), "library.db"),
		[]*ssotws.Model{libraryv1ssotws.ShelfModel, libraryv1ssotws.BookModel}, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	return store
}

func testAIPParent(t *testing.T, store ssotws.Store) {
	srv, api := newLibraryOn(t, store)
	ctx := srv.Context(t)
	create := func(parent, title, author string) *libraryv1.Book {
		t.Helper()
		res, err := api.CreateBook(ctx, connect.NewRequest(&libraryv1.CreateBookRequest{
			Parent: parent, Book: &libraryv1.Book{Title: title, Author: author, MarkupSyntax: "md"},
		}))
		require.NoError(t, err)
		return res.Msg
	}
	create("shelves/1", "Moby Dick", "Melville")
	create("shelves/2", "Emma", "Austen")
	create("shelves/1", "Typee", "Melville")
	create("shelves/10", "Persuasion", "Austen") // a prefix of shelves/1's names, but another shelf
	list := func(req *libraryv1.ListBooksRequest) []string {
		t.Helper()
		res, err := api.ListBooks(ctx, connect.NewRequest(req))
		require.NoError(t, err)
		return bookTitles(res.Msg.GetBooks())
	}
	assert.Equal(t, []string{"Moby Dick", "Typee"}, list(&libraryv1.ListBooksRequest{Parent: "shelves/1"}))
	assert.Equal(t, []string{"Emma"}, list(&libraryv1.ListBooksRequest{Parent: "shelves/2"}))
	assert.Empty(t, list(&libraryv1.ListBooksRequest{Parent: "shelves/3"}))
	_, err := api.ListBooks(ctx, connect.NewRequest(&libraryv1.ListBooksRequest{Parent: "publishers/1"}))
	wantCode(t, err, connect.CodeInvalidArgument, `parent "publishers/1" does not match "shelves/{shelf}"`)
	assert.Len(t, list(&libraryv1.ListBooksRequest{}), 4, "no parent: every shelf")
	assert.Equal(t, []string{"Moby Dick", "Typee"}, list(&libraryv1.ListBooksRequest{Parent: "shelves/1", MarkupSyntax: "html"}), "markup_syntax does not filter")
	assert.Equal(t, []string{"Emma", "Persuasion"}, list(&libraryv1.ListBooksRequest{Author: "Austen"}))

	// The parent's channel, through the generated hybrid client over a
	// real WebSocket.
	books := libraryv1ssotws.NewBookClient(libraryv1connect.NewLibraryServiceClient(srv.HTTPClient("bob"), srv.URL), srv.Dial(t, "bob"), nil)
	shelf1 := libraryv1ssotws.BookChannels.Parent("shelves/1")
	assert.Equal(t, "Book?parent=shelves%2F1", shelf1)
	var mu sync.Mutex
	var seen []string
	defer books.Subscribe(shelf1, func(c client.Change[*libraryv1.Book]) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, c.Type.String()+" "+c.Value.GetTitle())
	})()
	require.NoError(t, books.WebSocket().WaitHydrated(ctx, shelf1))
	hydrated, err := books.List(ctx, client.ListParams{Filters: map[string]string{"parent": "shelves/1"}})
	require.NoError(t, err)
	assert.Equal(t, []string{"Moby Dick", "Typee"}, bookTitles(hydrated.Items))

	create("shelves/2", "Sense and Sensibility", "Austen")
	create("shelves/10", "Mansfield Park", "Austen")
	create("shelves/1", "Omoo", "Melville")
	srv.WaitFor(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) > 0 && strings.HasSuffix(seen[len(seen)-1], "Omoo")
	}, "bob sees the book created on shelves/1")
	mu.Lock()
	defer mu.Unlock()
	// A channel delivers in order: another shelf's book, created before,
	// would have come first.
	for _, s := range seen {
		assert.NotContains(t, s, "Sense and Sensibility")
		assert.NotContains(t, s, "Mansfield Park")
	}
	assert.Contains(t, seen, "created Omoo")
}

// TestAIPEtag: every response carries the etag of the record's version
// (AIP-154); an Update or Delete with another one is Aborted.
func TestAIPEtag(t *testing.T) {
	srv, api := newLibrary(t)
	ctx := srv.Context(t)
	created, err := api.CreateBook(ctx, connect.NewRequest(&libraryv1.CreateBookRequest{Parent: "shelves/1", BookId: "emma", Book: &libraryv1.Book{Title: "Emma", Etag: `"42"`}}))
	require.NoError(t, err)
	first := created.Msg.GetEtag()
	assert.Equal(t, `"1"`, first, "the server's etag, whatever the request said")
	stored := storedRecord(t, srv.Store, "aip.library.v1.Book", "shelves/1/books/emma", &libraryv1.Book{})
	assert.Empty(t, stored.GetEtag(), "the etag is derived, not stored")

	updated, err := api.UpdateBook(ctx, connect.NewRequest(&libraryv1.UpdateBookRequest{Book: &libraryv1.Book{Name: "shelves/1/books/emma", Title: "Emma (2nd ed.)", Etag: first}}))
	require.NoError(t, err)
	second := updated.Msg.GetEtag()
	assert.NotEqual(t, first, second)
	got, err := api.GetBook(ctx, connect.NewRequest(&libraryv1.GetBookRequest{Name: "shelves/1/books/emma"}))
	require.NoError(t, err)
	assert.Equal(t, second, got.Msg.GetEtag())
	page, err := api.ListBooks(ctx, connect.NewRequest(&libraryv1.ListBooksRequest{Parent: "shelves/1"}))
	require.NoError(t, err)
	assert.Equal(t, second, page.Msg.GetBooks()[0].GetEtag())

	_, err = api.UpdateBook(ctx, connect.NewRequest(&libraryv1.UpdateBookRequest{Book: &libraryv1.Book{Name: "shelves/1/books/emma", Title: "stale", Etag: first}}))
	wantCode(t, err, connect.CodeAborted, "")
	_, err = api.UpdateBook(ctx, connect.NewRequest(&libraryv1.UpdateBookRequest{Book: &libraryv1.Book{Name: "shelves/1/books/emma", Title: "forged", Etag: "not-ours"}}))
	wantCode(t, err, connect.CodeAborted, "etag")
	_, err = api.DeleteBook(ctx, connect.NewRequest(&libraryv1.DeleteBookRequest{Name: "shelves/1/books/emma", Etag: first}))
	wantCode(t, err, connect.CodeAborted, "")
	got, err = api.GetBook(ctx, connect.NewRequest(&libraryv1.GetBookRequest{Name: "shelves/1/books/emma"}))
	require.NoError(t, err)
	assert.Equal(t, "Emma (2nd ed.)", got.Msg.GetTitle(), "neither stale write applied")

	_, err = api.DeleteBook(ctx, connect.NewRequest(&libraryv1.DeleteBookRequest{Name: "shelves/1/books/emma", Etag: second}))
	require.NoError(t, err)
	_, err = api.GetBook(ctx, connect.NewRequest(&libraryv1.GetBookRequest{Name: "shelves/1/books/emma"}))
	wantCode(t, err, connect.CodeNotFound, "")
}

// TestAIPFilterOrderBy: a List's AIP-160 filter and AIP-132 order_by,
// parsed against the Book's fields, with pages that follow them; a bad
// filter is InvalidArgument with the parser's position.
func TestAIPFilterOrderBy(t *testing.T) {
	t.Run("memory", func(t *testing.T) { testAIPFilterOrderBy(t, nil) })
	t.Run("sqlite", func(t *testing.T) { testAIPFilterOrderBy(t, librarySQLite(t)) })
}

func testAIPFilterOrderBy(t *testing.T, store ssotws.Store) {
	srv, api := newLibraryOn(t, store)
	ctx := srv.Context(t)
	for _, b := range []*libraryv1.Book{
		{Title: "Moby Dick", Author: "Melville", Pages: 635},
		{Title: "Emma", Author: "Austen", Pages: 474},
		{Title: "Typee", Author: "Melville", Pages: 298},
		{Title: "Persuasion", Author: "Austen", Pages: 249},
	} {
		_, err := api.CreateBook(ctx, connect.NewRequest(&libraryv1.CreateBookRequest{Parent: "shelves/1", Book: b}))
		require.NoError(t, err)
	}
	_, err := api.CreateBook(ctx, connect.NewRequest(&libraryv1.CreateBookRequest{Parent: "shelves/2", Book: &libraryv1.Book{Title: "Omoo", Author: "Melville", Pages: 400}}))
	require.NoError(t, err)
	list := func(req *libraryv1.ListBooksRequest) *libraryv1.ListBooksResponse {
		t.Helper()
		res, err := api.ListBooks(ctx, connect.NewRequest(req))
		require.NoError(t, err)
		return res.Msg
	}
	assert.Equal(t, []string{"Moby Dick", "Emma"}, bookTitles(list(&libraryv1.ListBooksRequest{Parent: "shelves/1", Filter: "pages > 300"}).GetBooks()))
	assert.Equal(t, []string{"Typee", "Persuasion"}, bookTitles(list(&libraryv1.ListBooksRequest{Parent: "shelves/1", Filter: `NOT pages > 300`}).GetBooks()))
	assert.Equal(t, []string{"Moby Dick", "Persuasion"}, bookTitles(list(&libraryv1.ListBooksRequest{
		Parent: "shelves/1", Filter: `(author = "Melville" AND pages >= 600) OR title = "Persuasion"`,
	}).GetBooks()))
	assert.Equal(t, []string{"Persuasion", "Typee", "Emma", "Moby Dick"}, bookTitles(list(&libraryv1.ListBooksRequest{Parent: "shelves/1", OrderBy: "pages"}).GetBooks()))
	assert.Equal(t, []string{"Moby Dick", "Omoo", "Typee"}, bookTitles(list(&libraryv1.ListBooksRequest{Filter: `author = "Melville"`, OrderBy: "pages desc"}).GetBooks()), "every shelf")

	// Pages follow the ordering.
	first := list(&libraryv1.ListBooksRequest{Parent: "shelves/1", OrderBy: "author, title desc", PageSize: 3})
	assert.Equal(t, []string{"Persuasion", "Emma", "Typee"}, bookTitles(first.GetBooks()))
	require.NotEmpty(t, first.GetNextPageToken())
	second := list(&libraryv1.ListBooksRequest{Parent: "shelves/1", OrderBy: "author, title desc", PageSize: 3, PageToken: first.GetNextPageToken()})
	assert.Equal(t, []string{"Moby Dick"}, bookTitles(second.GetBooks()))
	assert.Empty(t, second.GetNextPageToken())
	_, err = api.ListBooks(ctx, connect.NewRequest(&libraryv1.ListBooksRequest{Parent: "shelves/1", OrderBy: "title", PageToken: first.GetNextPageToken()}))
	wantCode(t, err, connect.CodeInvalidArgument, "page_token")

	_, err = api.ListBooks(ctx, connect.NewRequest(&libraryv1.ListBooksRequest{Filter: "pages >"}))
	wantCode(t, err, connect.CodeInvalidArgument, `filter "pages >": 1:8: expected a parse token: EOF`)
	_, err = api.ListBooks(ctx, connect.NewRequest(&libraryv1.ListBooksRequest{Filter: `publisher = "x"`}))
	wantCode(t, err, connect.CodeInvalidArgument, "undeclared identifier 'publisher'")
	_, err = api.ListBooks(ctx, connect.NewRequest(&libraryv1.ListBooksRequest{Filter: `pages = "many"`}))
	wantCode(t, err, connect.CodeInvalidArgument, "filter")
	_, err = api.ListBooks(ctx, connect.NewRequest(&libraryv1.ListBooksRequest{OrderBy: "publisher"}))
	wantCode(t, err, connect.CodeInvalidArgument, "order_by")
}

// TestAIPClientNamed: a DataClient's Create carries no parent; a record it
// names itself keeps its name when it fits the pattern, and its id is
// checked as a request's would be.
func TestAIPClientNamed(t *testing.T) {
	srv, api := newLibrary(t)
	ctx := srv.Context(t)
	books := libraryv1ssotws.NewBookClient(api, nil, nil)
	created, err := books.Create(ctx, &libraryv1.Book{Name: "shelves/7/books/emma", Title: "Emma"})
	require.NoError(t, err)
	assert.Equal(t, "shelves/7/books/emma", created.GetName())
	_, err = books.Create(ctx, &libraryv1.Book{Name: "shelves/7/books/Emma!", Title: "Emma"})
	wantCode(t, err, connect.CodeInvalidArgument, `book.name: resource id "Emma!"`)
	_, err = books.Create(ctx, &libraryv1.Book{Title: "nameless"})
	wantCode(t, err, connect.CodeInvalidArgument, `parent "" does not match "shelves/{shelf}"`)
}
