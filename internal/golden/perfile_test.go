package golden_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	perfilev1 "github.com/ssot-codegen/ssot-ws/internal/golden/perfile/v1"
	"github.com/ssot-codegen/ssot-ws/internal/golden/perfile/v1/perfilev1connect"
	"github.com/ssot-codegen/ssot-ws/internal/golden/perfile/v1/perfilev1ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPerFile drives a package laid out one file per resource: one
// RegisterChannels for the models of every file, and a model served by a
// read service and a write service declared in two files, each with a
// client constructor named after its service.
func TestPerFile(t *testing.T) {
	ctx := context.Background()
	reg := &registry{}
	require.NoError(t, perfilev1ssotws.RegisterChannels(reg))
	assert.Equal(t, []string{"Book", "Shelf"}, reg.names)

	store, rec := ssotws.NewMemoryStore(), &recorder{}
	mux := http.NewServeMux()
	mux.Handle(perfilev1connect.NewShelfServiceHandler(perfilev1ssotws.NewShelfService(store, rec, nil)))
	mux.Handle(perfilev1connect.NewBookReadServiceHandler(perfilev1ssotws.NewBookReadService(store, rec, nil)))
	mux.Handle(perfilev1connect.NewBookWriteServiceHandler(perfilev1ssotws.NewBookWriteService(store, rec, nil)))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	shelves := perfilev1ssotws.NewShelfClient(perfilev1connect.NewShelfServiceClient(srv.Client(), srv.URL), nil, nil)
	shelf, err := shelves.Create(ctx, &perfilev1.Shelf{Theme: "poetry"})
	require.NoError(t, err)

	writer := perfilev1ssotws.NewBookClientForBookWriteService(perfilev1connect.NewBookWriteServiceClient(srv.Client(), srv.URL), nil, nil)
	reader := perfilev1ssotws.NewBookClientForBookReadService(perfilev1connect.NewBookReadServiceClient(srv.Client(), srv.URL), nil, nil)
	book, err := writer.Create(ctx, &perfilev1.Book{Id: "b1", ShelfId: shelf.GetId(), Title: "Odes"})
	require.NoError(t, err)
	got, err := reader.Get(ctx, book.GetId())
	require.NoError(t, err)
	assert.Equal(t, "Odes", got.GetTitle())
	page, err := reader.List(ctx, client.ListParams{Filters: map[string]string{"shelf_id": shelf.GetId()}})
	require.NoError(t, err)
	assert.Len(t, page.Items, 1)
	var channels []string
	for _, e := range rec.take() {
		channels = append(channels, strings.Fields(e)[1])
	}
	assert.Equal(t, []string{"Shelf", "Shelf/" + shelf.GetId(), "Book", "Book/b1", "Book?shelf_id=" + shelf.GetId()}, channels)
}
