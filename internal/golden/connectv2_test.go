package golden_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	connectv1 "connectrpc.com/connect"
	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connecthttp"
	bookshopv1 "github.com/ssot-codegen/ssot-ws/internal/golden/connectv2/bookshop/v1"
	"github.com/ssot-codegen/ssot-ws/internal/golden/connectv2/bookshop/v1/bookshopv1connect"
	"github.com/ssot-codegen/ssot-ws/internal/golden/connectv2/bookshop/v1/bookshopv1ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/client"
	"github.com/ssot-codegen/ssot-ws/ssotws/connectv2"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newBookshopV2 serves the connect=v2 golden over HTTP on loopback, behind
// the v2 auth interceptor (the token is the user's name, "bad" is
// refused), and returns a v2-generated client of it.
func newBookshopV2(t *testing.T) (bookshopv1connect.BookshopServiceClient, *positionedRecorder) {
	t.Helper()
	auth := ssotws.AuthenticatorFunc(func(_ context.Context, token string) (*ssotws.Identity, error) {
		if token == "bad" {
			return nil, errors.New("unknown token")
		}
		return &ssotws.Identity{Subject: token}, nil
	})
	rec := &positionedRecorder{}
	svc := bookshopv1ssotws.NewBookshopService(ssotws.NewMemoryStore(), rec, nil)
	srv := serve(t)(bookshopv1ssotws.NewBookshopServiceHandler(svc, connectv2.NewAuthInterceptor(auth, nil)))
	return bookshopv1connect.NewBookshopServiceClient(connect.NewClient(connecthttp.NewTransport(srv.Client(), srv.URL))), rec
}

// positionedRecorder records events and reads every channel at position
// epoch 1, so that reads have a position to send.
type positionedRecorder struct{ recorder }

func (r *positionedRecorder) Position(context.Context, string) (*wsv1.Position, error) {
	return &wsv1.Position{Epoch: 1}, nil
}

// bearer returns ctx with a v2 CallInfo carrying token, and the CallInfo.
func bearer(ctx context.Context, token string) (context.Context, *connect.CallInfo) {
	ctx, info := connect.NewClientContext(ctx)
	if token != "" {
		info.RequestHeader().Set("Authorization", "Bearer "+token)
	}
	return ctx, info
}

func wantV2Code(t *testing.T, err error, code connect.Code, contains string) {
	t.Helper()
	require.Error(t, err)
	assert.Equal(t, code, connect.CodeOf(err), "%v", err)
	ce, ok := errors.AsType[*connect.Error](err)
	require.True(t, ok, "%T is not a v2 *connect.Error", err)
	assert.Contains(t, ce.Message(), contains)
}

func TestConnectV2Handlers(t *testing.T) {
	c, rec := newBookshopV2(t)
	ctx := t.Context()

	alice, _ := bearer(ctx, "alice")
	created, err := c.CreateBook(alice, &bookshopv1.CreateBookRequest{Book: &bookshopv1.Book{
		Name: "odes", ShelfId: 7, Title: "Odes", Owner: "mallory",
	}})
	require.NoError(t, err)
	assert.Equal(t, "alice", created.GetOwner(), "the owner is the creator")
	assert.EqualValues(t, 1, created.GetVersion())
	wantEvents(t, &rec.recorder, "CREATED Book odes 1 ", "CREATED Book/odes odes 1 ", "CREATED Book?shelf_id=7 odes 1 ")

	// Get and List carry the read position in their response headers.
	getCtx, info := bearer(ctx, "")
	got, err := c.GetBook(getCtx, &bookshopv1.GetBookRequest{Name: "odes"})
	require.NoError(t, err)
	assert.Equal(t, "Odes", got.GetTitle())
	assert.NotEmpty(t, info.ResponseHeader().Get(ssotws.HeaderPosition))
	assert.Equal(t, "Book/odes", info.ResponseHeader().Get(ssotws.HeaderChannel))

	listCtx, info := bearer(ctx, "")
	shelf := int64(7)
	list, err := c.ListBooks(listCtx, &bookshopv1.ListBooksRequest{ShelfId: &shelf})
	require.NoError(t, err)
	require.Len(t, list.GetBooks(), 1)
	assert.NotEmpty(t, info.ResponseHeader().Get(ssotws.HeaderPosition))
	other := int64(8)
	list, err = c.ListBooks(ctx, &bookshopv1.ListBooksRequest{ShelfId: &other})
	require.NoError(t, err)
	assert.Empty(t, list.GetBooks())

	// The runtime's errors arrive as v2 errors with their code and message.
	_, err = c.GetBook(ctx, &bookshopv1.GetBookRequest{Name: "iliad"})
	wantV2Code(t, err, connect.CodeNotFound, "")
	_, err = c.GetBook(ctx, &bookshopv1.GetBookRequest{})
	wantV2Code(t, err, connect.CodeInvalidArgument, "name is required")
	_, err = c.CreateBook(ctx, &bookshopv1.CreateBookRequest{Book: &bookshopv1.Book{Name: "anon"}})
	wantV2Code(t, err, connect.CodeUnauthenticated, "")

	// Updates and deletes are conditional on the version they carry.
	_, err = c.UpdateBook(alice, &bookshopv1.UpdateBookRequest{Book: &bookshopv1.Book{Name: "odes", Title: "Stale", Version: 5}})
	wantV2Code(t, err, connect.CodeAborted, "")
	updated, err := c.UpdateBook(alice, &bookshopv1.UpdateBookRequest{
		Book: &bookshopv1.Book{Name: "odes", Title: "Odes II", Version: 1}, UpdateMask: mask("title"),
	})
	require.NoError(t, err)
	assert.Equal(t, "Odes II", updated.GetTitle())
	assert.EqualValues(t, 2, updated.GetVersion())
	_, err = c.DeleteBook(alice, &bookshopv1.DeleteBookRequest{Name: "odes", Version: 1})
	wantV2Code(t, err, connect.CodeAborted, "")
	rec.take()
	_, err = c.DeleteBook(alice, &bookshopv1.DeleteBookRequest{Name: "odes", Version: 2})
	require.NoError(t, err)
	assert.Len(t, rec.take(), 3, "one DELETED event per channel")
	_, err = c.GetBook(ctx, &bookshopv1.GetBookRequest{Name: "odes"})
	wantV2Code(t, err, connect.CodeNotFound, "")

	// The v2 auth interceptor refuses a bad token before the handler.
	badCtx, info := bearer(ctx, "bad")
	_, err = c.GetBook(badCtx, &bookshopv1.GetBookRequest{Name: "odes"})
	wantV2Code(t, err, connect.CodeUnauthenticated, "invalid token")
	assert.Equal(t, "Bearer", info.ResponseHeader().Get("WWW-Authenticate"))
}

func TestConnectV2GoClient(t *testing.T) {
	c, _ := newBookshopV2(t)
	ctx := t.Context()
	alice, _ := bearer(ctx, "alice")

	// The generated client.HTTP adapters drive the v2 client; their errors
	// are v1 *connect.Error, as ssotws/client reads them.
	books := bookshopv1ssotws.NewBookHTTP(c)
	created, err := books.Create(alice, &bookshopv1.Book{Name: "odes", Title: "Odes"}, nil)
	require.NoError(t, err)
	assert.EqualValues(t, 1, created.GetVersion())
	got, h, err := books.Get(ctx, "odes", nil)
	require.NoError(t, err)
	assert.Equal(t, "Odes", got.GetTitle())
	assert.NotEmpty(t, h.Get(ssotws.HeaderPosition))
	items, _, h, err := books.List(ctx, client.ListParams{}, nil)
	require.NoError(t, err)
	assert.Len(t, items, 1)
	assert.NotEmpty(t, h.Get(ssotws.HeaderPosition))
	_, _, err = books.Get(ctx, "iliad", nil)
	assert.Equal(t, connectv1.CodeNotFound, connectv1.CodeOf(err), "%v", err)
	_, err = books.Update(alice, &bookshopv1.Book{Name: "odes", Title: "Stale", Version: 9}, []string{"title"}, nil)
	assert.Equal(t, connectv1.CodeAborted, connectv1.CodeOf(err), "%v", err)
	err = books.Delete(ctx, "odes", nil)
	assert.Equal(t, connectv1.CodeUnauthenticated, connectv1.CodeOf(err), "%v", err)
	require.NoError(t, books.Delete(alice, "odes", nil))

	// The hybrid client over the adapter (no connection: HTTP only).
	shelves := bookshopv1ssotws.NewShelfClient(c, nil, nil)
	shelf, err := shelves.Create(ctx, &bookshopv1.Shelf{Theme: "poetry"})
	require.NoError(t, err)
	require.NotZero(t, shelf.GetId())
	_, err = shelves.Get(ctx, "x")
	assert.Equal(t, connectv1.CodeInvalidArgument, connectv1.CodeOf(err), "%v", err)
	assert.ErrorContains(t, err, `bookshop.v1.Shelf key "x" is not a valid int64`)
	_, err = shelves.Delete(ctx, "1")
	assert.ErrorIs(t, err, client.ErrNoMethod)
}

// TestConnectV2SmallResponsesUncompressed: the v2 handlers, like the v1
// ones, send a small response as it is to a client that accepts gzip, and
// compress a large one.
func TestConnectV2SmallResponsesUncompressed(t *testing.T) {
	auth := ssotws.AuthenticatorFunc(func(_ context.Context, token string) (*ssotws.Identity, error) {
		return &ssotws.Identity{Subject: token}, nil
	})
	svc := bookshopv1ssotws.NewBookshopService(ssotws.NewMemoryStore(), &positionedRecorder{}, nil)
	srv := serve(t)(bookshopv1ssotws.NewBookshopServiceHandler(svc, connectv2.NewAuthInterceptor(auth, nil)))
	call := func(method, body string) (string, []byte) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/bookshop.v1.BookshopService/"+method, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept-Encoding", "gzip")
		req.Header.Set("Authorization", "Bearer alice")
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		out, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode, string(out))
		return res.Header.Get("Content-Encoding"), out
	}
	title := strings.Repeat("a long title ", 8)
	for i := range 20 {
		encoding, out := call("CreateBook", fmt.Sprintf(`{"book":{"name":"b%d","shelfId":"7","title":%q}}`, i, title))
		require.Empty(t, encoding, "a %d-byte response compressed", len(out))
	}
	encoding, out := call("ListBooks", `{"shelfId":"7"}`)
	require.Equal(t, "gzip", encoding)
	zr, err := gzip.NewReader(bytes.NewReader(out))
	require.NoError(t, err)
	page, err := io.ReadAll(zr)
	require.NoError(t, err)
	require.Equal(t, 20, strings.Count(string(page), title))
}
