package golden_test

import (
	"context"
	"testing"

	"connectrpc.com/connect"
	httponlyv1 "github.com/ssot-codegen/ssot-ws/internal/golden/httponly/v1"
	"github.com/ssot-codegen/ssot-ws/internal/golden/httponly/v1/httponlyv1connect"
	"github.com/ssot-codegen/ssot-ws/internal/golden/httponly/v1/httponlyv1ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws"
)

// TestHTTPOnly drives a service none of whose models is realtime: its
// constructor takes no publisher.
func TestHTTPOnly(t *testing.T) {
	ctx := context.Background()
	store := ssotws.NewMemoryStore()
	srv := serve(t)(httponlyv1connect.NewNoteServiceHandler(httponlyv1ssotws.NewNoteService(store, nil, nil)))
	client := httponlyv1connect.NewNoteServiceClient(srv.Client(), srv.URL)

	created, err := client.CreateNote(ctx, connect.NewRequest(&httponlyv1.CreateNoteRequest{
		Note: &httponlyv1.Note{Folder: "inbox", Body: "milk"}, NoteId: "n1",
	}))
	if err != nil || created.Msg.GetId() != "n1" {
		t.Fatalf("create: %v, %v", created, err)
	}
	res, err := client.GetNote(ctx, connect.NewRequest(&httponlyv1.GetNoteRequest{Id: "n1"}))
	if err != nil || res.Msg.GetBody() != "milk" {
		t.Fatalf("get: %v, %v", res, err)
	}
	if res.Header().Get(ssotws.HeaderPosition) != "" {
		t.Fatal("an HTTP-only model returned a channel position")
	}
	list, err := client.ListNotes(ctx, connect.NewRequest(&httponlyv1.ListNotesRequest{Folder: "archive"}))
	if err != nil || len(list.Msg.GetNotes()) != 0 {
		t.Fatalf("list archive: %v, %v", list, err)
	}
	if httponlyv1ssotws.NoteModel.Realtime() || httponlyv1ssotws.ProfileModel.Realtime() {
		t.Fatal("a model is realtime")
	}
}
